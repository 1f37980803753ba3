"""The public pages' cache (wac.web.status_pages.TTLCache): one computation per key and
period however many ask, and nothing stale kept after `clear()` (a SIGHUP's new pages)."""

from __future__ import annotations

import asyncio

from wac.web.status_pages import TTLCache


def test_many_asking_at_once_share_one_computation() -> None:
    cache = TTLCache(ttl=60)
    computed: list[int] = []

    async def compute() -> int:
        computed.append(1)
        await asyncio.sleep(0.01)
        return len(computed)

    async def main() -> list[int]:
        return list(await asyncio.gather(*(cache.get("page", compute) for _ in range(10))))

    assert asyncio.run(main()) == [1] * 10
    assert computed == [1]


def test_a_value_computed_across_a_clear_is_not_kept() -> None:
    cache = TTLCache(ttl=60)

    async def main() -> tuple[str, str]:
        started, go = asyncio.Event(), asyncio.Event()

        async def old_page() -> str:
            started.set()
            await go.wait()
            return "old"

        async def new_page() -> str:
            return "new"

        in_flight = asyncio.create_task(cache.get("page", old_page))
        await started.wait()
        cache.clear()  # the pages were read again meanwhile
        go.set()
        first = await in_flight
        return first, await cache.get("page", new_page)

    assert asyncio.run(main()) == ("old", "new")

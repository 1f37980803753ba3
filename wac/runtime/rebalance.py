"""Rebalance callbacks that never raise.

librdkafka calls `on_assign`, `on_revoke` and `on_lost` from inside `consume`. An
exception there leaves the group's assignment half done and comes out of `consume`
far from its cause. `guarded` wraps a callback: whatever it raises is logged in one
line and handed to `on_failure` (which asks the service to stop), and the callback
returns normally.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from wac.errors import described

log = logging.getLogger(__name__)

Callback = Callable[[Any, list[Any]], None]


def guarded(
    callback: Callback, *, what: str, on_failure: Callable[[BaseException], None]
) -> Callback:
    def call(consumer: Any, partitions: list[Any]) -> None:
        try:
            callback(consumer, partitions)
        except BaseException as exc:  # nothing may leave a rebalance callback
            log.error("%s failed (%s); stopping", what, described(exc))
            log.debug("%s failure", what, exc_info=True)
            on_failure(exc)

    return call

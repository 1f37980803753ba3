"""Debian's headless Chromium, driven by Playwright, with a page that records what went
wrong: script errors, console errors, failed requests, and requests to any other host."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(os.environ.get("WAC_TEST_SCREENSHOTS", "/tmp/wac-web-screenshots"))
LOCAL = ("http://127.0.0.1", "data:")


def require_chromium() -> None:
    """Fail in CI, where the set-up installs Chromium; skip on a machine without it."""
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium")
    pytest.skip(f"{CHROMIUM} is missing (scripts/setup.sh installs it as root)")


@contextmanager
def chromium() -> Iterator[Any]:
    """A browser, closed at the end; the screenshots' folder made."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class WatchedPage:
    page: Any
    problems: list[str] = field(default_factory=list)  # errors, failed requests
    external: list[str] = field(default_factory=list)  # requests that left the machine


def watched_page(
    browser: Any, token: str | None = None, width: int = 1360, height: int = 900
) -> WatchedPage:
    """A page in a new context (with the dashboard's credentials when a token is given)."""
    credentials = {"http_credentials": {"username": "ops", "password": token}} if token else {}
    context = browser.new_context(viewport={"width": width, "height": height}, **credentials)
    watched = WatchedPage(context.new_page())
    page, problems, external = watched.page, watched.problems, watched.external
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    page.on("request", lambda r: None if r.url.startswith(LOCAL) else external.append(r.url))
    return watched

"""The image's healthcheck: which service a process runs and where to ask it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.containers import load_script

healthcheck = load_script("healthcheck")

ENV = {
    "WAC_MONITOR_METRICS_PORT": "9101",
    "WAC_STORE_METRICS_PORT": "9102",
    "WAC_ALERT_METRICS_PORT": "9103",
}


@pytest.mark.parametrize(
    ("argv", "url"),
    [
        (["/opt/wac/bin/python", "/opt/wac/bin/wac", "store"], "http://127.0.0.1:9102/metrics"),
        (["python", "-m", "wac.store_results"], "http://127.0.0.1:9102/metrics"),
        (["python", "-m", "wac.monitor", "https://a/", "--period", "5"],
         "http://127.0.0.1:9101/metrics"),
        (["wac", "monitor", "--metrics-port", "9200"], "http://127.0.0.1:9200/metrics"),
        (["wac", "alert", "--metrics-port=9300"], "http://127.0.0.1:9300/metrics"),
        (["wac", "web", "--host", "0.0.0.0"], "http://127.0.0.1:8080/healthz"),
        (["wac", "web", "--port", "8081"], "http://127.0.0.1:8081/healthz"),
    ],
)  # fmt: skip
def test_service_and_url(argv: list[str], url: str) -> None:
    service = healthcheck.service_of(argv)
    assert service is not None
    assert healthcheck.url_of(service, ENV) == url


def test_one_shot_commands_and_other_programs_have_nothing_to_ask() -> None:
    assert healthcheck.service_of(["wac", "check", "https://a/"]) is None
    assert healthcheck.service_of(["sh", "-c", "sleep 1"]) is None
    store = healthcheck.service_of(["wac", "store"])
    assert store is not None and healthcheck.url_of(store, {}) is None


def test_settings_are_the_environment_over_the_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("WAC_WEB_PORT=8090\nWAC_STORE_METRICS_PORT=1\n")
    merged = healthcheck.settings({"WAC_STORE_METRICS_PORT": "9102"}, tmp_path)
    assert merged["WAC_WEB_PORT"] == "8090" and merged["WAC_STORE_METRICS_PORT"] == "9102"


def test_this_process_is_found_in_proc() -> None:
    argv, env, _ = next(p for p in healthcheck.processes() if p[2] == Path.cwd())
    assert argv and isinstance(env, dict)


WORDS = ["wac", "-m", "wac.monitor", "store", "web", "--port", "--metrics-port", "9101", ""]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS) | st.text(max_size=12), max_size=8))
def test_any_command_line_gives_a_local_url_or_none(argv: list[str]) -> None:
    service = healthcheck.service_of(argv)
    if service is not None:
        url = healthcheck.url_of(service, ENV)
        assert url is None or url.startswith("http://127.0.0.1:")

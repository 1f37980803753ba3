"""The one duration grammar: the targets file, the alerts section, the environment and
the command line read a duration the same way, each within its own bounds."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wac import limits
from wac.alerts.config import parse_alert_config
from wac.alerts.maintenance import WeeklyWindow
from wac.errors import ConfigError
from wac.reports.window import parse_duration as parse_window
from wac.settings.durations import UNITS, parse_duration, parse_duration_text, seconds_in
from wac.settings.variables import CHECK_TIMEOUT, WAC_STORE_BATCH_WAIT, WAC_STORE_STATS_INTERVAL
from wac.targets import parse_targets_document
from wac.yaml_config import parse_yaml

FAR = 10 * 366 * 86400.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("10s", 10),
        ("5m", 300),
        ("1h", 3600),
        ("1d", 86400),
        ("2w", 14 * 86400),
        ("1.5", 1.5),
        (".5s", 0.5),
        ("1.s", 1.0),
        (" 3 h ", 10800),
    ],
)
def test_every_unit(text: str, seconds: float) -> None:
    assert seconds_in(text) == pytest.approx(seconds)
    assert parse_duration(text, "w", "f") == pytest.approx(seconds)
    assert parse_duration_text(text, "X", lowest=0.001, highest=FAR) == pytest.approx(seconds)


def test_the_alerts_section_takes_days_and_weeks() -> None:
    """`give_up_after: 1d` used to fail: the file took ms/s/m/h only, `--since` s/m/h/d/w."""
    document = parse_yaml(
        "targets: [{url: 'https://a/', name: a}]\n"
        "alerts:\n"
        "  delivery: {give_up_after: 1d, retry_max: 1h}\n"
        "  defaults: {reminder_interval: 1w, location_expiry: 1d}\n"
        "  maintenance: [{weekly: {days: [sun], start: '02:00', duration: 1w}}]\n",
        "t.yaml",
    )
    config = parse_alert_config(document, source="t.yaml", env={})
    assert config.delivery.give_up_after == 86400
    assert config.defaults.reminder_interval == 7 * 86400
    assert config.defaults.location_expiry == 86400
    window = config.maintenance[0].window
    assert isinstance(window, WeeklyWindow) and window.duration.total_seconds() == 7 * 86400


def test_targets_take_the_same_grammar_within_their_bounds() -> None:
    (target,) = parse_targets_document(
        parse_yaml("targets: [{url: 'https://a/', interval: 1d, timeout: 1500ms}]", "t"),
        source="t",
        default_timeout=1.0,
    )
    assert target.interval == 86400 and target.timeout == 1.5
    with pytest.raises(ConfigError, match="interval '2d' is too long: at most 24h"):
        parse_targets_document(
            parse_yaml("targets: [{url: 'https://a/', interval: 2d}]", "t"),
            source="t",
            default_timeout=1.0,
        )


def test_settings_and_options_take_it_too() -> None:
    assert CHECK_TIMEOUT.read({"CHECK_TIMEOUT": "2.5"}) == 2.5
    assert CHECK_TIMEOUT.read({"CHECK_TIMEOUT": "500ms"}) == 0.5
    assert WAC_STORE_BATCH_WAIT.read({"WAC_STORE_BATCH_WAIT": "250ms"}) == 0.25
    assert WAC_STORE_STATS_INTERVAL.read({"WAC_STORE_STATS_INTERVAL": "0"}) == 0
    assert WAC_STORE_STATS_INTERVAL.read({"WAC_STORE_STATS_INTERVAL": "1d"}) == 86400
    with pytest.raises(ConfigError, match=r"^CHECK_TIMEOUT='2h' must be between 1ms and 1h$"):
        CHECK_TIMEOUT.read({"CHECK_TIMEOUT": "2h"})
    with pytest.raises(ConfigError, match=r"^WAC_STORE_BATCH_WAIT='0' must be between"):
        WAC_STORE_BATCH_WAIT.read({"WAC_STORE_BATCH_WAIT": "0"})
    with pytest.raises(ConfigError, match="must be 0 \\(off\\) or between 1ms and 366d"):
        WAC_STORE_STATS_INTERVAL.read({"WAC_STORE_STATS_INTERVAL": "400d"})


def test_report_windows_name_their_unit() -> None:
    assert parse_window("1w").total_seconds() == 7 * 86400
    assert parse_window("90s").total_seconds() == 90
    with pytest.raises(ConfigError, match=r"^--since='90' is not a duration: use e.g. 30m"):
        parse_window("90")


NUMBERS = st.one_of(
    st.integers(min_value=0, max_value=10**6).map(str),
    st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)).map(lambda p: f"{p[0]}.{p[1]}"),
)


@settings(max_examples=300, deadline=None)
@given(number=NUMBERS, unit=st.sampled_from([*UNITS, ""]), space=st.sampled_from(["", " "]))
def test_a_number_and_a_unit_is_that_many_seconds_everywhere(
    number: str, unit: str, space: str
) -> None:
    text = f"{number}{space}{unit}"
    expected = float(number) * UNITS[unit or "s"]
    assert seconds_in(text) == pytest.approx(expected)
    for read in (
        lambda: parse_duration(text, "t", "f", maximum=math.inf),
        lambda: parse_duration_text(text, "X", lowest=1e-300, highest=math.inf),
    ):
        if expected > 0:
            assert read() == pytest.approx(expected)
        else:
            with pytest.raises(ConfigError):
                read()


@settings(max_examples=400, deadline=None)
@given(
    raw=st.one_of(
        st.text(max_size=30),
        st.from_regex(r"\s*-?[0-9]{0,400}(\.[0-9]{0,30})?\s*(ms|s|m|h|d|w|y|)\s*", fullmatch=True),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(),
        st.booleans(),
        st.none(),
        st.lists(st.integers(), max_size=2),
    )
)
def test_any_value_is_a_duration_within_the_bounds_or_one_line(raw: object) -> None:
    try:
        seconds = parse_duration(
            raw,
            "t.yaml: target 'a'",
            "timeout",
            maximum=limits.MAX_TIMEOUT_S,
            minimum=limits.MIN_TIMEOUT_S,
        )
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith("t.yaml: target 'a': timeout") and "\n" not in message
    else:
        assert limits.MIN_TIMEOUT_S <= seconds <= limits.MAX_TIMEOUT_S
    if isinstance(raw, str):
        try:
            seconds = parse_duration_text(
                raw, "CHECK_TIMEOUT", lowest=limits.MIN_TIMEOUT_S, highest=limits.MAX_TIMEOUT_S
            )
        except ConfigError as exc:
            assert str(exc).startswith("CHECK_TIMEOUT") and "\n" not in str(exc)
        else:
            assert limits.MIN_TIMEOUT_S <= seconds <= limits.MAX_TIMEOUT_S

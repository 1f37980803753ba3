"""Windows from outside (`--since`, `--from`, `--to`, `?since=`): refused when too long or
too far, so that no window reaches past what dates can hold."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wac.errors import ConfigError
from wac.reports.window import EARLIEST, LATEST, MAX_DURATION, parse_duration, parse_time


@pytest.mark.parametrize("text", ["3000000d", "36501d", "9" * 400 + "d", "5300w", "0d", "-1h"])
def test_durations_beyond_a_century_or_not_positive_are_refused(text: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_duration(text, "since")
    assert "since=" in str(refused.value) and len(str(refused.value)) < 200


@pytest.mark.parametrize(
    "text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00", "0001-01-01", "1899-12-31"]
)
def test_times_out_of_range_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="out of range"):
        parse_time(text, "--from")


@settings(max_examples=500, deadline=None)
@given(
    text=st.from_regex(r"\s*[0-9]{1,40}(\.[0-9]{0,30})?\s*[smhdw]\s*", fullmatch=True)
    | st.text(max_size=30)
)
def test_any_duration_is_a_window_that_fits_or_a_config_error(text: str) -> None:
    try:
        span = parse_duration(text, "since")
    except ConfigError:
        return
    assert span <= MAX_DURATION
    assert datetime.now(UTC) - span > EARLIEST  # the window's start is a date


@settings(max_examples=500, deadline=None)
@given(moment=st.datetimes(timezones=st.timezones()) | st.datetimes())
def test_any_time_is_in_range_or_a_config_error(moment: datetime) -> None:
    try:
        value = parse_time(moment.isoformat(), "--from")
    except ConfigError:
        return
    assert EARLIEST <= value <= LATEST and value.tzinfo is not None

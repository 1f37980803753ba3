"""`first_line`: the one line every service shows for an exception."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from wac.errors import described, first_line


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for this one")


@settings(max_examples=300, deadline=None)
@given(message=st.text())
def test_one_non_empty_line_whatever_the_message(message: str) -> None:
    line = first_line(ValueError(message))
    assert line and len(line.splitlines()) == 1
    assert line == message.strip().splitlines()[0] if message.strip() else line == "ValueError"


def test_empty_blank_and_unprintable_messages_give_the_class_name() -> None:
    assert first_line(OSError()) == "OSError"
    assert first_line(KeyError("")) == "''"  # KeyError shows its key, even an empty one
    assert first_line(ValueError(" \n\u2028\x1c ")) == "ValueError"
    assert first_line(Unprintable("x")) == "Unprintable"
    assert first_line(ValueError("\n  first\nsecond")) == "first"


def test_described_names_the_class_then_the_first_line_cut_short() -> None:
    assert described(KeyError("checks")) == "KeyError: 'checks'"
    assert described(OSError()) == "OSError"  # no text: the class once, not twice
    assert described(ValueError(" \n ")) == "ValueError"
    assert described(ValueError("relation\nLINE 1: SELECT")) == "ValueError: relation"
    long = described(RuntimeError("x" * 1000), limit=50)
    assert long == "RuntimeError: " + "x" * 47 + "..."

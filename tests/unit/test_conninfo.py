"""PostgreSQL connection strings: every form libpq accepts is read, and shown without secrets."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from wac import conninfo
from wac.config import load_settings, redact_url
from wac.errors import ConfigError

HOST = "host=db.example.com port=5432 dbname=wac user=wac"
# Text libpq can carry: no NUL, no lone surrogate.
passwords = st.text(
    st.characters(codec="utf-8", blacklist_characters="\x00"),
    min_size=1,
    max_size=40,
)
# With a letter no message or template has, so "not in the text" cannot hold by chance.
marked_passwords = st.builds(
    lambda a, mark, b: a + mark + b,
    passwords | st.just(""),
    st.sampled_from("éßΩ漢"),
    passwords | st.just(""),
)


def _kv_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _kv_bare(value: str) -> str:
    """libpq's unquoted value: a backslash escapes the next character."""
    return "".join("\\" + c if c.isspace() or c in "\\'" else c for c in value)


# Each form libpq accepts, with the password `p` written as that form requires.
FORMS: dict[str, Callable[[str], str]] = {
    "url userinfo": lambda p: (
        f"postgresql://wac:{quote(p, safe='')}@db.example.com:5432/wac?sslmode=require"
    ),
    "url query": lambda p: (
        f"postgresql://wac@db.example.com:5432/wac?password={quote(p, safe='')}&sslmode=require"
    ),
    "url sslpassword": lambda p: (
        f"postgres://wac:{quote(p, safe='')}@db.example.com/wac?sslpassword={quote(p, safe='')}"
    ),
    "key=value (psycopg's quoting)": lambda p: make_conninfo(HOST, password=p),
    "key=value quoted, spaces around =": lambda p: f"{HOST} password = {_kv_quote(p)} ",
    "key=value unquoted, escaped": lambda p: f"password={_kv_bare(p)} {HOST}",
}


@pytest.mark.parametrize("form", FORMS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(password=passwords)
@example(password="p@ss w'o\\rd%zz&x=1")
@example(password="*")
def test_password_never_in_redacted_text(form: str, password: str) -> None:
    raw = FORMS[form](password)
    assert conninfo_to_dict(raw).get("password", conninfo_to_dict(raw).get("sslpassword")) == (
        password
    ), "the test's form is not one libpq reads as this password"
    conninfo.check(raw)  # every form libpq accepts is accepted
    shown = conninfo.redact(raw)
    # The redacted text does not depend on the password at all, so it cannot carry it.
    assert shown == conninfo.redact(FORMS[form]("x"))
    assert conninfo.MASK in shown
    if "*" not in password:  # masking "*" with "***" leaves a "*", harmlessly
        assert password not in conninfo.scrub(f'failed for "{password}" and {raw}', raw)


# Mistakes: the password written raw where the form needs escaping, or cut by junk.
BROKEN: dict[str, Callable[[str], str]] = {
    "url userinfo, unescaped": lambda p: f"postgresql://wac:{p}@db.example.com:5432/wac",
    "url query, unescaped": lambda p: f"postgresql://wac@db.example.com/wac?password={p}",
    "key=value unquoted with spaces": lambda p: f"{HOST} password={p} sslmode=require",
    "key=value unterminated quote": lambda p: f"{HOST} password='{p}",
    "url, unknown parameter after": lambda p: (
        f"postgresql://wac:{quote(p, safe='')}@db.example.com/wac?sslmod=require"
    ),
}


@pytest.mark.parametrize("form", BROKEN)
@settings(max_examples=150, deadline=None)
@given(password=marked_passwords)
@example(password="my sécret")
@example(password="a@b/c?d&é=f")
def test_broken_strings_never_show_the_password(form: str, password: str) -> None:
    raw = BROKEN[form](password)
    try:
        conninfo.check(raw)
        message = ""
    except ConfigError as exc:
        message = str(exc)
    assert "\n" not in message
    for text in (message, conninfo.redact(raw)):
        assert password not in text, (raw, text)


@settings(max_examples=300, deadline=None)
@given(raw=st.text(st.characters(codec="utf-8", blacklist_characters="\x00")))
def test_any_string_is_checked_without_an_exception_other_than_config_error(raw: str) -> None:
    try:
        conninfo.check(raw)
    except ConfigError as exc:
        assert "\n" not in str(exc)
    conninfo.redact(raw)


def test_libpq_complaints_keep_option_names_and_lose_fragments() -> None:
    with pytest.raises(ConfigError) as typo:
        conninfo.check("hots=db password=s3cret")
    assert 'invalid connection option "hots"' in str(typo.value)
    assert "s3cret" not in str(typo.value)
    with pytest.raises(ConfigError) as space:
        conninfo.check("postgresql://wac:two words@db/wac")
    assert "percent-encoded spaces" in str(space.value) and "two" not in str(space.value)
    with pytest.raises(ConfigError, match="starts with 'mysql://'"):
        conninfo.check("mysql://u:s3cret@h/db")
    with pytest.raises(ConfigError, match="@ or / too many"):
        conninfo.check("postgresql://wac:p@ss@db/wac")
    with pytest.raises(ConfigError, match="bad port"):
        conninfo.check("postgresql://wac:pw@db:99999/wac")


def test_key_value_endpoint_is_accepted_and_redacted() -> None:
    raw = "host=db port=5432 dbname=wac user=wac password='s3 cr\\'et' sslmode=require"
    assert load_settings({"POSTGRES_ENDPOINT": raw}).postgres() == raw
    assert redact_url(raw) == "host=db port=5432 dbname=wac user=wac password=*** sslmode=require"
    assert load_settings({"POSTGRES_ENDPOINT": "   "}).postgres_endpoint is None


def test_query_password_is_redacted() -> None:
    raw = "postgresql://wac@db:5432/wac?password=s3cret&sslmode=require"
    assert redact_url(raw) == "postgresql://wac@db:5432/wac?password=***&sslmode=require"

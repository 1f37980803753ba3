"""The store's binary COPY stream (psycopg's `Copy.write_row`, written into memory) is
byte for byte the format as the tests state it (tests/support/pgcopy.py), for random
rows of every type the store writes, NULLs included; and the checks table takes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from tests.support import pgcopy
from tests.support.store import own_schema
from wac.store.copy_data import binary_copy
from wac.store.decode import CHECK_COLUMNS, CHECK_TYPES
from wac.store.partitions import Partitions

pytestmark = pytest.mark.integration

ZONES = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=11))]
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "uuid": st.uuids(),
    # PostgreSQL text holds no NUL, and psycopg refuses unpaired surrogates as we do.
    "text": st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00")),
    "timestamptz": st.datetimes(timezones=st.sampled_from(ZONES)),
    "bool": st.booleans(),
    "int2": st.integers(-(2**15), 2**15 - 1),
    "float8": st.floats(),
    # What the store gives for `details`: the wrapper, with the function writing the text.
    "jsonb": st.dictionaries(
        st.text(max_size=8), st.none() | st.integers() | st.text(max_size=20), max_size=4
    ).map(lambda value: Jsonb(value, dumps=msgspec.json.encode)),
}


@st.composite
def tables(draw: st.DrawFn) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    types = tuple(draw(st.lists(st.sampled_from(sorted(pgcopy.KINDS)), min_size=1, max_size=20)))
    row = st.tuples(*(st.none() | VALUES[t] for t in types))
    return types, draw(st.lists(row, max_size=8))


@pytest.fixture(scope="module")
def conn(services_env: dict[str, str]) -> Iterator[psycopg.Connection]:
    with psycopg.connect(services_env["POSTGRES_ENDPOINT"]) as connection:
        yield connection


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=tables())
def test_psycopg_writes_every_row_as_the_format_says(
    conn: psycopg.Connection, table: tuple[tuple[str, ...], list[tuple[Any, ...]]]
) -> None:
    types, rows = table
    assert binary_copy(rows, types, conn) == pgcopy.binary_copy(rows, types)


def test_the_checks_table_takes_the_stream(services_env: dict[str, str]) -> None:
    now = datetime.now(UTC)
    row = (
        uuid.uuid4(), "GET https://a.example/", "https://a.example/", "here", now, False,
        503, 12.5, 1.0, 2.0, None, 3.0, 4.0, "ok", False, now + timedelta(days=90), None,
        "status", "HTTP status 503, expected 2xx or 3xx \u00e9\u4e2d\U0001f600", "dns",
        Jsonb({"dns_rcode": "NOERROR", "dns_answers": ["10 mail.x."]}, dumps=msgspec.json.encode),
    )  # fmt: skip
    with own_schema(services_env) as env, psycopg.connect(env["POSTGRES_ENDPOINT"]) as db:
        db.autocommit = True
        Partitions().maintain(db, now)
        columns = ", ".join(CHECK_COLUMNS)
        with db.cursor().copy(f"COPY checks ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(binary_copy([row], CHECK_TYPES, db))
        stored = db.execute(f"SELECT {columns} FROM checks").fetchall()
    assert stored == [(*row[:-1], row[-1].obj)]

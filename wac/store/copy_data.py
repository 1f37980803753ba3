"""Rows → PostgreSQL's binary COPY format, as one `bytes`, ready to stream.

The consumer thread encodes a batch while the writer thread streams the previous one,
so the writer needs Python (and the GIL) only for a few large writes per batch instead
of once per row: with two threads on two cores, handing the GIL back and forth per row
was what limited the store.

The encoding is psycopg's own row formatter (in C), through its public API: a `Copy`
made by hand that writes into memory (`psycopg.copy.FileWriter`), which psycopg
documents for writing COPY data without a COPY operation. The connection only lends
its type registry: nothing is sent on it, so any open connection does, even one
another thread is using. So the bytes are exactly what `Copy.write_row` would send; a
Python statement of the format in the tests holds them equal for random rows.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import Copy
from psycopg.copy import FileWriter


def binary_copy(
    rows: Iterable[Sequence[Any]], types: Sequence[str], conn: psycopg.Connection
) -> bytes:
    """The whole COPY … (FORMAT BINARY) stream of these rows: header, rows, trailer.

    `types` are the PostgreSQL types of the columns, in order. A value psycopg cannot
    encode raises (ValueError, TypeError, psycopg.DataError); a closed `conn`,
    psycopg.OperationalError.
    """
    buffer = io.BytesIO()
    with Copy(conn.cursor(), binary=True, writer=FileWriter(buffer)) as copy:
        copy.set_types(list(types))
        write_row = copy.write_row
        for row in rows:
            write_row(row)
    return buffer.getvalue()

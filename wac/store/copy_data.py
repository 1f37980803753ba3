"""Rows → PostgreSQL's binary COPY format, as one `bytes`, ready to stream.

The consumer thread encodes a batch while the writer thread streams the previous one,
so the writer needs Python (and the GIL) only for a few large writes per batch instead
of once per row: with two threads on two cores, handing the GIL back and forth per row
was what limited the store. The encoding is psycopg's own (its C row formatter, the one
`Copy.write_row` uses), so it is byte for byte what `write_row` would send.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from psycopg import adapt, postgres, pq
from psycopg._copy_base import BinaryFormatter


@cache
def _oids(types: tuple[str, ...]) -> list[int]:
    return [postgres.types[name].oid for name in types]


def binary_copy(rows: Iterable[Sequence[Any]], types: tuple[str, ...]) -> bytes:
    """The whole COPY … (FORMAT BINARY) stream of these rows: header, rows, trailer.

    `types` are the PostgreSQL types of the columns, in order.
    """
    transformer = adapt.Transformer()
    transformer.set_dumper_types(_oids(types), pq.Format.BINARY)
    formatter = BinaryFormatter(transformer)
    out = bytearray()
    for row in rows:
        out += formatter.write_row(row)
    out += formatter.end()
    return bytes(out)

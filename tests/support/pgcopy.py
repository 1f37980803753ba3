"""PostgreSQL's binary COPY format, written out in Python: the tests' statement of it.

The store encodes with psycopg's own row formatter (`wac.store.copy_data`, C, several
times faster than this); the tests hold both byte for byte equal, and use this one
where there is no connection to lend psycopg its type registry.

The format (PostgreSQL's documentation of COPY, "Binary Format"): a header (the
11-byte signature `PGCOPY\\n\\377\\r\\n\\0`, 32-bit flags 0, 32-bit header extension
length 0); per row a 16-bit field count, then per field a 32-bit length (-1 for NULL)
and the value in the type's binary send format, all integers big-endian; a trailer of
one 16-bit -1. The types the store writes:

- `uuid`: its 16 bytes; `text`: its UTF-8 bytes; `bool`: one byte, 1 or 0;
- `int2`, `float8`: two-byte integer, eight-byte IEEE 754 double;
- `timestamptz`: microseconds since 2000-01-01 00:00 UTC, as a 64-bit integer;
- `jsonb`: a version byte, 1, then the JSON text (the store passes psycopg's `Jsonb`
  wrapper with the function that writes the text).

"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)
NULL = struct.pack(">i", -1)

# Column types, by how often a row of the store has them: one branch each per field.
TEXT, FLOAT8, TIMESTAMPTZ, UUID, BOOL, INT2, JSONB = range(7)
KINDS = {
    "text": TEXT,
    "float8": FLOAT8,
    "timestamptz": TIMESTAMPTZ,
    "uuid": UUID,
    "bool": BOOL,
    "int2": INT2,
    "jsonb": JSONB,
}

_POSTGRES_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_LENGTH = struct.Struct(">i").pack
_FLOAT8 = struct.Struct(">id").pack
_INT8 = struct.Struct(">iq").pack
_INT2 = struct.Struct(">ih").pack
_UUID_LENGTH = struct.pack(">i", 16)
_TRUE = struct.pack(">ib", 1, 1)
_FALSE = struct.pack(">ib", 1, 0)


def binary_copy(rows: Iterable[Sequence[Any]], types: tuple[str, ...]) -> bytes:
    """The whole COPY … (FORMAT BINARY) stream of these rows: header, rows, trailer.

    `types` are the PostgreSQL types of the columns, in order; a row of another length
    raises ValueError, a value of a type the column does not take raises (TypeError,
    AttributeError, struct.error), as does a time without a time zone.
    """
    kinds = [KINDS[name] for name in types]
    count = struct.pack(">h", len(kinds))
    out = bytearray(HEADER)
    for row in rows:
        out += count
        for kind, value in zip(kinds, row, strict=True):
            if value is None:
                out += NULL
            elif kind == TEXT:
                data = value.encode()
                out += _LENGTH(len(data))
                out += data
            elif kind == FLOAT8:
                out += _FLOAT8(8, value)
            elif kind == TIMESTAMPTZ:
                out += _INT8(8, (value - _POSTGRES_EPOCH) // _MICROSECOND)
            elif kind == UUID:
                out += _UUID_LENGTH
                out += value.bytes
            elif kind == BOOL:
                out += _TRUE if value else _FALSE
            elif kind == JSONB:
                text = value.dumps(value.obj)
                data = b"\x01" + (text.encode() if isinstance(text, str) else text)
                out += _LENGTH(len(data))
                out += data
            else:
                out += _INT2(2, value)
    out += TRAILER
    return bytes(out)

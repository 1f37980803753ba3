"""Dead letters: Kafka messages a consumer refused, kept raw in `rejected_messages`.

The store and `wac alert` both refuse messages that are not v1 results (and the store
those the database refuses); each keeps them with where they came from, so nothing
consumed is lost silently and a person can look at them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg

INSERT_REJECTED = (
    'INSERT INTO rejected_messages (topic, "partition", "offset", key, value, reason) '
    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)


class Record(Protocol):
    """What a consumer reads of a Kafka message (confluent_kafka.Message has it)."""

    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...


@dataclass(frozen=True)
class Rejected:
    """A message refused before or by the database, kept raw with where it came from."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str

    @classmethod
    def of(cls, message: Record, reason: str) -> Rejected:
        return cls(
            topic=message.topic() or "",
            partition=_int(message.partition()),
            offset=_int(message.offset()),
            key=message.key(),
            value=message.value(),
            reason=reason,
        )


def insert_rejected(cur: psycopg.Cursor[Any], rejected: Sequence[Rejected]) -> None:
    """Write dead letters; one already there (same topic, partition, offset) stays."""
    cur.executemany(
        INSERT_REJECTED,
        [(r.topic, r.partition, r.offset, r.key, r.value, _text(r.reason)) for r in rejected],
    )


def _text(value: str) -> str:
    return value.replace("\x00", "\\0")


def _int(value: int | None) -> int:
    """Partition and offset are never None on a consumed message; typed so for mypy."""
    assert value is not None
    return value

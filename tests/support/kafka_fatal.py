"""A fatal error in a producer connected to the real broker, through librdkafka's own hook.

librdkafka's documentation of `rd_kafka_test_fatal_error`: "Since there is no practical
way to trigger real fatal errors in the idempotent producer, this method allows an
application to trigger fabricated fatal errors in tests to check its error handling
code." confluent-kafka does not expose it, so it is called here through ctypes, in the
librdkafka that confluent-kafka loaded, on the `rd_kafka_t` of a `Producer`: the first
field after the object header of confluent-kafka's `Handle` struct. The handle's name
is checked against the producer's `client.id` before the hook is called.
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

import confluent_kafka
from confluent_kafka import KafkaError

_HEADER = 2 * ctypes.sizeof(ctypes.c_void_p)  # PyObject_HEAD: reference count, type


def _librdkafka() -> ctypes.CDLL:
    libs = Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs"
    found = sorted(libs.glob("librdkafka*.so*"))
    assert found, f"no librdkafka in {libs}"
    lib = ctypes.CDLL(str(found[0]))
    lib.rd_kafka_name.restype = ctypes.c_char_p
    lib.rd_kafka_name.argtypes = [ctypes.c_void_p]
    lib.rd_kafka_test_fatal_error.restype = ctypes.c_int
    lib.rd_kafka_test_fatal_error.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p]
    return lib


def trigger_fatal_error(
    producer: confluent_kafka.Producer,
    client_id: str,
    code: int = KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
) -> None:
    """Make librdkafka raise a fatal error in this producer, as a broken sequence would."""
    assert sys.implementation.name == "cpython"
    lib = _librdkafka()
    handle = ctypes.c_void_p.from_address(id(producer) + _HEADER).value
    assert handle, "no rd_kafka_t in this producer"
    name = lib.rd_kafka_name(handle).decode()
    assert name.startswith(f"{client_id}#producer-"), name
    assert lib.rd_kafka_test_fatal_error(handle, code, b"provoked by a test") == 0

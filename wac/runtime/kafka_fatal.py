"""Fatal Kafka errors: the one policy every service follows.

librdkafka calls an error fatal when the client instance can do nothing more: an
idempotent producer whose message sequence broke (its queue is purged and every call
fails from then on), a static consumer fenced by another process with the same
`group.instance.id`. confluent-kafka does not pass these to `error_cb`: a producer's
`poll` or `flush` raises them, and a consumer's `consume` returns them as a message
whose error is `_FATAL`.

The policy:

- a producer logs one line and carries on with a new producer (`wac.runtime.producer`),
  which is what librdkafka prescribes; should the new one fail fatally too within a
  short while, the service stops with exit code 2;
- a consumer stops its service with exit code 2 and one line (`KafkaFatal`): a new
  consumer would only fence the other process back, or fail the same way.

Never a traceback, never one line per result.
"""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException

from wac.errors import WacError


class KafkaFatal(WacError):
    """A Kafka client failed for good; the service stops (exit code 2)."""

    exit_code = 2


def is_fatal(error: KafkaError | None) -> bool:
    """Is this error (of a message, a call or a callback) a fatal one?"""
    return error is not None and (error.fatal() or error.code() == KafkaError._FATAL)


def fatal_in(exc: BaseException) -> KafkaError | None:
    """The fatal error an exception of confluent-kafka carries; None if it is another."""
    if isinstance(exc, KafkaException) and exc.args:
        error = exc.args[0]
        if isinstance(error, KafkaError) and is_fatal(error):
            return error
    return None


def consumer_failed(error: KafkaError, service: str) -> KafkaFatal:
    """The error that stops a service whose consumer failed for good."""
    reason = error.str()
    if "group.instance.id" in reason or error.code() == KafkaError.FENCED_INSTANCE_ID:
        advice = (
            "another process consumes as the same static group member: give each process "
            "its own instance id (--instance or WAC_ALERT_INSTANCE), or none"
        )
    else:
        advice = (
            "start it again: it resumes from its last committed results; if this happens "
            "again, look at the broker's log"
        )
    return KafkaFatal(f"{service} stopped: its Kafka consumer failed for good ({reason}); {advice}")

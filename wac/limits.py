"""The bounds of every target setting, in one place.

A value outside them is refused when it is read (the targets file, the command line,
the environment), so that nothing accepted can later make a check throw: libcurl takes
C longs and ASCII strings, the scheduler's grid arithmetic needs finite intervals, and
every result must fit in one Kafka message. The README's targets section lists them.
"""

from __future__ import annotations

MIN_TIMEOUT_S = 0.001  # libcurl counts milliseconds
MAX_TIMEOUT_S = 3600.0
MIN_INTERVAL_S = 0.1
MAX_INTERVAL_S = 86400.0
MAX_REDIRECTS = 30  # libcurl's own default limit
MAX_BODY_BYTES = 1024**3  # with a pattern, the body is held in memory until matched
MAX_URL_CHARS = 8192
MAX_NAME_CHARS = 1024
# The Kafka key and `checks.target`: the store refuses longer ones (its index entry limit).
MAX_TARGET_ID_BYTES = 1024
MAX_PATTERN_CHARS = 1024
MAX_HEADER_VALUE_CHARS = 8192
MAX_CONFIG_DURATION_S = 366 * 86400.0  # any other duration in the file (alerts)
# Durations of the services' settings (the store's batch wait, summaries, refreshes).
MIN_SETTING_DURATION_S = 0.001
MAX_SETTING_DURATION_S = MAX_CONFIG_DURATION_S


def describe_seconds(seconds: float) -> str:
    """`1ms`, `100ms`, `1h`, `24h`, `366d`: a bound as a person writes it."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    if seconds > 86400 and seconds % 86400 == 0:
        return f"{seconds / 86400:g}d"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    return f"{seconds:g}s"


# The probes other than HTTP (wac.probes.tcp, tls, dns, icmp): their options' bounds.
MAX_TCP_SEND_BYTES = 64 * 1024
MAX_TCP_READ_BYTES = 1024 * 1024  # the reply an `expect` is looked for in is held in memory
MAX_ICMP_COUNT = 100
MIN_ICMP_INTERVAL_S = 0.001
MAX_ICMP_INTERVAL_S = 60.0

# A target's definition in the targets topic (wac.targets.definition): bounded before it
# is parsed. A definition nests 2 levels (the object, its headers or expect_status); its
# largest fields (url, pattern, header values) fit many times in 256 KiB, well under
# Kafka's default message limit of 1 MB.
MAX_DEFINITION_BYTES = 256 * 1024
MAX_DEFINITION_NESTING = 8

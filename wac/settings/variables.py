"""Every environment variable wac reads: its name, type and bounds, default and meaning.

This table is the only place a variable is defined. Commands read a variable with
`VARIABLE.read(env)`, where `env` is the one merge of the environment over `.env`
(wac.settings.environment); command-line options that mirror a variable are built from
it (wac.settings.options), so their help and default are these; and the README's table
of environment variables is generated from it (`python -m wac.settings.table`), a test
failing when they differ.

The seed's variables keep their names and defaults (`KAFKA_...`, `POSTGRES_ENDPOINT`,
`CHECK_TIMEOUT`); wac's own are prefixed `WAC_`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from wac import limits
from wac.settings import values

T = TypeVar("T")

KAFKA = "Kafka and PostgreSQL"
CHECKS = "Checks and `wac monitor`"
STORE = "`wac store`"
ALERT = "`wac alert`"
WEB = "`wac web`"
GENERAL = "Every command"
LOCAL = "Local services (`wac services`, `wac up`)"


@dataclass(frozen=True)
class Variable(Generic[T]):
    """One environment variable. `default` is what an unset (or blank) variable gives;
    `shown_default` is the README's and `--help`'s way of writing it."""

    name: str
    parse: Callable[[str, str], T]
    default: T
    shown_default: str
    meaning: str
    section: str
    options: tuple[str, ...] = ()  # `wac alert --metrics-port`: options that override it
    blank_is_unset: bool = True  # False: set but blank is refused (a secret that failed)

    def read(self, env: Mapping[str, str]) -> T:
        """The variable's value in `env`, parsed, or its default."""
        raw = env.get(self.name)
        if raw is None or (self.blank_is_unset and not raw.strip()):
            return self.default
        return self.parse(raw, self.name)

    def pick(self, option_value: str | None, option: str, env: Mapping[str, str]) -> T:
        """The option's value when it was given (its errors name the option), else the
        variable's."""
        if option_value is not None:
            return self.parse(option_value, option)
        return self.read(env)


def _var(
    name: str,
    parse: Callable[[str, str], T],
    default: T,
    shown_default: str,
    meaning: str,
    section: str,
    *,
    options: tuple[str, ...] = (),
    blank_is_unset: bool = True,
) -> Variable[T]:
    variable = Variable(
        name, parse, default, shown_default, meaning, section, options, blank_is_unset
    )
    VARIABLES.append(variable)
    return variable


VARIABLES: list[Variable[Any]] = []  # in the README's order

# ------------------------------------------------------------------ Kafka and PostgreSQL
KAFKA_ENDPOINT: Variable[str | None] = _var(
    "KAFKA_ENDPOINT",
    values.kafka_endpoint,
    None,
    "none",
    "`host:port` of the Kafka service (several: comma-separated)",
    KAFKA,
)
KAFKA_CERT_DIR: Variable[Path] = _var(
    "KAFKA_CERT_DIR",
    values.path,
    Path("./certs"),
    "`./certs`",
    "folder with `ca.pem`, `service.cert`, `service.key` for SSL",
    KAFKA,
)
KAFKA_TOPIC: Variable[str] = _var(
    "KAFKA_TOPIC",
    values.text,
    "website-monitoring",
    "`website-monitoring`",
    "topic results are published to and consumed from",
    KAFKA,
)
KAFKA_CLIENT_ID: Variable[str] = _var(
    "KAFKA_CLIENT_ID",
    values.text,
    "website-monitoring-client",
    "`website-monitoring-client`",
    "Kafka client id",
    KAFKA,
)
KAFKA_GROUP_ID: Variable[str] = _var(
    "KAFKA_GROUP_ID",
    values.text,
    "website-monitoring-group",
    "`website-monitoring-group`",
    "consumer group of the store",
    KAFKA,
)
KAFKA_USE_SSL: Variable[bool] = _var(
    "KAFKA_USE_SSL",
    values.boolean,
    True,
    "on",
    "set to `false` for a plaintext listener",
    KAFKA,
)
KAFKA_PARTITIONS: Variable[int] = _var(
    "KAFKA_PARTITIONS",
    values.whole(1, 10_000, example=6),
    6,
    "`6`",
    "partitions of the topic when wac creates it",
    KAFKA,
)
KAFKA_ALERT_GROUP_ID: Variable[str | None] = _var(
    "KAFKA_ALERT_GROUP_ID",
    values.text,
    None,
    "`<KAFKA_GROUP_ID>-alert`",
    "consumer group of `wac alert`",
    KAFKA,
)
KAFKA_EVENTS_TOPIC: Variable[str | None] = _var(
    "KAFKA_EVENTS_TOPIC",
    values.text,
    None,
    "`<KAFKA_TOPIC>-events`",
    "topic of incident events (`website-monitoring-events` by default)",
    KAFKA,
)
KAFKA_TARGETS_TOPIC: Variable[str | None] = _var(
    "KAFKA_TARGETS_TOPIC",
    values.text,
    None,
    "`<KAFKA_TOPIC>-targets`",
    "compacted topic of managed target definitions (`wac targets`, the API, "
    "`wac monitor --fleet`): key = target id, a tombstone deletes",
    KAFKA,
)
WAC_TARGETS_PARTITIONS: Variable[int] = _var(
    "WAC_TARGETS_PARTITIONS",
    values.whole(1, 10_000, example=12),
    12,
    "`12`",
    "partitions of the targets topic when wac creates it: the units a fleet of monitors "
    "shares out, so at most this many monitors of one location get targets (12 spreads "
    "evenly over 1, 2, 3, 4, 6 or 12 monitors)",
    KAFKA,
)
POSTGRES_ENDPOINT: Variable[str | None] = _var(
    "POSTGRES_ENDPOINT",
    values.postgres_endpoint,
    None,
    "none",
    "`postgresql://USER:PASSWORD@HOST:PORT/DBNAME` (libpq URL; "
    "`?sslmode=verify-full&sslrootcert=...` for managed databases), or libpq's key=value "
    "form (`host=H port=P dbname=D user=U password='PW'`); checked with libpq's parser at "
    "start (exit 2), the password never shown",
    KAFKA,
)

# ------------------------------------------------------------------ checks and the monitor
CHECK_TIMEOUT: Variable[float] = _var(
    "CHECK_TIMEOUT",
    values.seconds(limits.MIN_TIMEOUT_S, limits.MAX_TIMEOUT_S),
    1.0,
    "`1`",
    "how long a check may take unless its target sets `timeout`: seconds (`2.5`) or a "
    "duration (`500ms`), 1 ms to 1 h",
    CHECKS,
    options=("wac check --timeout",),
)
WAC_MONITOR_NAME: Variable[str | None] = _var(
    "WAC_MONITOR_NAME",
    values.text,
    None,
    "host name",
    "the `monitor` field of results",
    CHECKS,
    options=("wac monitor --location",),
)
WAC_MONITOR_MAX_IN_FLIGHT: Variable[int] = _var(
    "WAC_MONITOR_MAX_IN_FLIGHT",
    values.whole(1, example=1000),
    1000,
    "`1000`",
    "checks a monitor process runs at once, at most",
    CHECKS,
    options=("wac monitor --max-in-flight",),
)
WAC_MONITOR_BUFFER: Variable[int] = _var(
    "WAC_MONITOR_BUFFER",
    values.whole(1, example=100_000),
    100_000,
    "`100000`",
    "results a monitor process holds while Kafka is away",
    CHECKS,
    options=("wac monitor --buffer",),
)
WAC_MONITOR_METRICS_PORT: Variable[int | None] = _var(
    "WAC_MONITOR_METRICS_PORT",
    values.port,
    None,
    "none",
    "Prometheus metrics of `wac monitor` on 127.0.0.1:PORT/metrics",
    CHECKS,
    options=("wac monitor --metrics-port",),
)
WAC_FLEET_SESSION_TIMEOUT: Variable[float] = _var(
    "WAC_FLEET_SESSION_TIMEOUT",
    values.seconds(1.0, 300.0),
    6.0,
    "`6`",
    "`wac monitor --fleet`: how long (seconds, or a duration) a monitor may go unheard "
    "before its partitions go to the others: a killed monitor's targets are unchecked for "
    "about this long plus an interval. 6 s is the least Kafka brokers accept by default "
    "(`group.min.session.timeout.ms`)",
    CHECKS,
    options=("wac monitor --session-timeout",),
)
WAC_BLOCK_PRIVATE_TARGETS: Variable[bool] = _var(
    "WAC_BLOCK_PRIVATE_TARGETS",
    values.boolean,
    False,
    "`false`",
    "`true` refuses targets whose address (after DNS, and after every redirect) is "
    "loopback, private, link-local, CGNAT or otherwise not public: for deployments where "
    "untrusted people supply targets",
    CHECKS,
)
WAC_CA_BUNDLE: Variable[Path | None] = _var(
    "WAC_CA_BUNDLE",
    values.existing_file,
    None,
    "system CAs",
    "PEM file of the CAs that checked sites' certificates are verified against",
    CHECKS,
)

# ------------------------------------------------------------------ the store
WAC_STORE_BATCH_SIZE: Variable[int] = _var(
    "WAC_STORE_BATCH_SIZE",
    values.whole(1, example=10_000),
    10_000,
    "`10000`",
    "results a store writes in one transaction at most",
    STORE,
)
WAC_STORE_BATCH_WAIT: Variable[float] = _var(
    "WAC_STORE_BATCH_WAIT",
    values.seconds(limits.MIN_SETTING_DURATION_S, limits.MAX_SETTING_DURATION_S),
    0.1,
    "`0.1`",
    "how long (seconds, or a duration such as `250ms`) a store waits to fill a batch "
    "before writing what it has",
    STORE,
)
WAC_STORE_RETENTION_DAYS: Variable[int] = _var(
    "WAC_STORE_RETENTION_DAYS",
    values.whole(0, example=30),
    0,
    "`0`",
    "days of `checks` kept: older daily partitions are dropped whole; 0 keeps everything",
    STORE,
)
WAC_STORE_MAX_MESSAGE_BYTES: Variable[int] = _var(
    "WAC_STORE_MAX_MESSAGE_BYTES",
    values.whole(1024, example=65536),
    65536,
    "`65536`",
    "larger messages are rejected to `rejected_messages` (`wac alert` skips them too)",
    STORE,
)
WAC_STORE_TARGETS_REFRESH: Variable[float] = _var(
    "WAC_STORE_TARGETS_REFRESH",
    values.seconds(limits.MIN_SETTING_DURATION_S, limits.MAX_SETTING_DURATION_S, zero_ok=True),
    60.0,
    "`60`",
    "seconds (or a duration) between rewrites of a target's `last_seen` when its status "
    "has not changed; 0 writes every check",
    STORE,
)
WAC_STORE_STATS_INTERVAL: Variable[float] = _var(
    "WAC_STORE_STATS_INTERVAL",
    values.seconds(limits.MIN_SETTING_DURATION_S, limits.MAX_SETTING_DURATION_S, zero_ok=True),
    60.0,
    "`60`",
    "seconds (or a duration) between the store's summary lines in the log; 0 turns them off",
    STORE,
)
WAC_STORE_METRICS_PORT: Variable[int | None] = _var(
    "WAC_STORE_METRICS_PORT",
    values.port,
    None,
    "none",
    "Prometheus metrics of `wac store` on 127.0.0.1:PORT/metrics",
    STORE,
    options=("wac store --metrics-port",),
)

# ------------------------------------------------------------------ alerts
WAC_ALERT_INSTANCE: Variable[str | None] = _var(
    "WAC_ALERT_INSTANCE",
    values.text,
    None,
    "none",
    "static group member id of `wac alert`: a restarted process gets its partitions back "
    "at once instead of after the session timeout",
    ALERT,
    options=("wac alert --instance",),
)
WAC_ALERT_METRICS_PORT: Variable[int | None] = _var(
    "WAC_ALERT_METRICS_PORT",
    values.port,
    None,
    "none",
    "Prometheus metrics of `wac alert` on 127.0.0.1:PORT/metrics",
    ALERT,
    options=("wac alert --metrics-port",),
)

# ------------------------------------------------------------------ the dashboard
WAC_WEB_PORT: Variable[int] = _var(
    "WAC_WEB_PORT",
    values.port,
    8080,
    "`8080`",
    "port of `wac web`, 1 to 65535 (anything else stops `wac web` and `wac up` at start, "
    "exit 2); it listens on 127.0.0.1 unless `wac web --host` says otherwise",
    WEB,
    options=("wac web --port",),
)
WAC_WEB_TOKEN: Variable[str | None] = _var(
    "WAC_WEB_TOKEN",
    values.secret_token,
    None,
    "none",
    "when set, `wac web` requires it: `Authorization: Bearer TOKEN`, or basic auth with "
    "TOKEN as the password (any user name). Set but empty or blank (or with surrounding "
    "spaces) is refused at start, exit 2: unset it to serve without authentication. "
    "Status pages, their feeds and the badges of their targets stay public",
    WEB,
    blank_is_unset=False,
)
WAC_WEB_ADMIN_TOKEN: Variable[str | None] = _var(
    "WAC_WEB_ADMIN_TOKEN",
    values.secret_token,
    None,
    "none",
    "when set, `wac web` accepts notices through `POST/DELETE /api/pages/SLUG/notices` "
    "with `Authorization: Bearer TOKEN` (bearer only, never basic auth, so a browser "
    "cannot send it on its own); unset, those routes answer 403. Refused at start "
    "(exit 2) when empty, blank, padded or equal to `WAC_WEB_TOKEN`",
    WEB,
    blank_is_unset=False,
)

# ------------------------------------------------------------------ every command
WAC_LOG_LEVEL: Variable[str] = _var(
    "WAC_LOG_LEVEL",
    values.log_level,
    "INFO",
    "`INFO`",
    "`DEBUG`, `INFO`, `WARNING`, `ERROR`",
    GENERAL,
)

# ------------------------------------------------------------------ local services
WAC_HOME: Variable[Path | None] = _var(
    "WAC_HOME",
    values.path,
    None,
    "`./.wac`",
    "where the local services keep data, logs, keys and certificates: by default the "
    "`.wac` folder of the current folder",
    LOCAL,
)
WAC_KAFKA_PORT: Variable[int] = _var(
    "WAC_KAFKA_PORT",
    values.whole(1, 65533, example=19092),
    19092,
    "`19092`",
    "local Kafka: plaintext port; SSL is +1, controller +2; the tests' three-broker "
    "cluster takes +10 to +15",
    LOCAL,
)
WAC_POSTGRES_PORT: Variable[int] = _var(
    "WAC_POSTGRES_PORT",
    values.port,
    15432,
    "`15432`",
    "local PostgreSQL port",
    LOCAL,
)
WAC_KAFKA_HEAP: Variable[str] = _var(
    "WAC_KAFKA_HEAP",
    values.heap_size,
    "512m",
    "`512m`",
    "local Kafka: the JVM heap (`-Xms`/`-Xmx`)",
    LOCAL,
)
WAC_PG_BIN: Variable[Path] = _var(
    "WAC_PG_BIN",
    values.path,
    Path("/usr/lib/postgresql/15/bin"),
    "`/usr/lib/postgresql/15/bin`",
    "local PostgreSQL: the folder of `initdb`, `pg_ctl`, `postgres`",
    LOCAL,
)

BY_NAME: dict[str, Variable[Any]] = {variable.name: variable for variable in VARIABLES}

-- Results of checks, one row per Kafka message, partitioned by day on checked_at.
-- PostgreSQL requires the partition key in every unique index, so the idempotency
-- key is (checked_at, id): a message always carries the same checked_at for its id.
CREATE TABLE checks (
    id               uuid             NOT NULL,
    target           text             NOT NULL,
    url              text             NOT NULL,
    monitor          text             NOT NULL,
    checked_at       timestamptz      NOT NULL,
    ok               boolean          NOT NULL,
    status_code      smallint,
    response_time_ms double precision,
    resolve_ms       double precision,
    connect_ms       double precision,
    tls_ms           double precision,
    processing_ms    double precision,
    transfer_ms      double precision,
    pattern          text,
    pattern_matched  boolean,
    tls_expires_at   timestamptz,
    error_kind       text,
    error_message    text,
    final_url        text,
    stored_at        timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (checked_at, id)
) PARTITION BY RANGE (checked_at);

-- "latest checks of one target"; "all checks in a time range" uses the primary key.
CREATE INDEX checks_target_time ON checks (target, checked_at DESC);

-- Dead letters: messages that could not be decoded or validated, kept raw.
CREATE TABLE rejected_messages (
    topic        text        NOT NULL,
    "partition"  integer     NOT NULL,
    "offset"     bigint      NOT NULL,
    key          bytea,
    value        bytea,
    reason       text        NOT NULL,
    rejected_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, "partition", "offset")
);

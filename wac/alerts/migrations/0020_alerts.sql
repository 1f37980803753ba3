-- wac alert: incidents, the per-target state machine, consumer offsets and the outbox.
-- State, offsets and outbox rows of one batch are written in one transaction, so a
-- restart resumes exactly where the last committed batch ended.

-- One row per down period of a target.
CREATE TABLE IF NOT EXISTS incidents (
    id         bigserial   PRIMARY KEY,
    target     text        NOT NULL,
    started    timestamptz NOT NULL,   -- first failed check of the streak
    ended      timestamptz,            -- first good check of the recovery; null while open
    cause      text        NOT NULL,   -- error kind and message of the check that confirmed it
    locations  text[]      NOT NULL,   -- monitor locations that saw it down
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS incidents_target_started ON incidents (target, started DESC);
CREATE INDEX IF NOT EXISTS incidents_open ON incidents (target) WHERE ended IS NULL;

-- The state machine of each target (JSON of wac.alerts.state.TargetState), per
-- alert consumer group, with the partition its results come from.
CREATE TABLE IF NOT EXISTS alert_state (
    consumer_group text        NOT NULL,
    target         text        NOT NULL,
    topic          text        NOT NULL,
    "partition"    integer     NOT NULL,
    state          jsonb       NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, target)
);
CREATE INDEX IF NOT EXISTS alert_state_partition
    ON alert_state (consumer_group, topic, "partition");

-- The next offset to read per partition: the source of truth for where to resume.
CREATE TABLE IF NOT EXISTS alert_offsets (
    consumer_group text    NOT NULL,
    topic          text    NOT NULL,
    "partition"    integer NOT NULL,
    next_offset    bigint  NOT NULL,
    PRIMARY KEY (consumer_group, topic, "partition")
);

-- Notifications and events to deliver, one row per (key, channel); the key is
-- incident:<id>:<kind>:<sequence> or certificate:<target>:<expiry>:<days>.
CREATE TABLE IF NOT EXISTS alert_outbox (
    id              bigserial   PRIMARY KEY,
    consumer_group  text        NOT NULL,
    dedup_key       text        NOT NULL,
    channel         text        NOT NULL,   -- notifier name, or @events for the topic
    target          text        NOT NULL,
    incident_id     bigint      REFERENCES incidents (id),
    kind            text        NOT NULL,
    seq             integer     NOT NULL DEFAULT 0,
    payload         jsonb       NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    UNIQUE (consumer_group, dedup_key, channel)
);
CREATE INDEX IF NOT EXISTS alert_outbox_due
    ON alert_outbox (consumer_group, next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS alert_outbox_order
    ON alert_outbox (consumer_group, channel, target, id) WHERE status = 'pending';

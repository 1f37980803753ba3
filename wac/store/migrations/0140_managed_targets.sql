-- The store's mirror of the targets topic (KAFKA_TARGETS_TOPIC), for queries: one row per
-- managed target, as the compacted log says (its latest record wins; a tombstone deletes
-- the row). `definition` is the record's JSON value as published, credentials included,
-- as the topic holds it; readers (the API) mask them. Written only by the mirror
-- (wac/store/targets_mirror.py), in the same transaction as the offsets below.
CREATE TABLE managed_targets (
    target            text             PRIMARY KEY,
    definition        jsonb            NOT NULL,
    url               text             NOT NULL,  -- without credentials
    interval_s        double precision NOT NULL,
    paused            boolean          NOT NULL,
    topic_partition   integer          NOT NULL,
    topic_offset      bigint           NOT NULL,
    updated_at        timestamptz      NOT NULL DEFAULT now()
);

-- The next offset of each partition of the targets topic the mirror holds. Locked row by
-- row while a batch is written, so that several stores mirroring the same topic apply
-- each record once, in order.
CREATE TABLE managed_targets_offsets (
    topic             text    NOT NULL,
    "partition"       integer NOT NULL,
    next_offset       bigint  NOT NULL,
    PRIMARY KEY (topic, "partition")
);

-- Heartbeat (push://NAME) targets: one row per target, the state the watcher needs.
-- `watch_since`: when a monitor first watched it (the anchor of its periods until the
-- first ping); `last_ping_at`: the newest ping `wac web` received (written before the
-- ping's up result is published, so a watcher never misses a ping the store has not
-- written yet); `missed_through`: the start of the newest missed period whose down
-- result Kafka acknowledged (a restarted watcher resumes after it; the results' ids
-- are deterministic, so one published twice is stored once).
CREATE TABLE push_pings (
    target          text        PRIMARY KEY,
    watch_since     timestamptz NOT NULL DEFAULT now(),
    last_ping_at    timestamptz,
    last_ping_id    uuid,
    missed_through  timestamptz
);

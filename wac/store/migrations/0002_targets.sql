-- One row per target ever stored: when it was first and last seen, and its latest
-- status. Kept current by the store in the same transaction as the checks; a change of
-- status is written at once, `last_seen` at least every WAC_STORE_TARGETS_REFRESH.
-- No index but the key, and room in each page, so that updates are HOT (no index
-- writes): the table is small (one row per target) and read whole.
CREATE TABLE targets (
    target              text        PRIMARY KEY,
    url                 text        NOT NULL,
    first_seen          timestamptz NOT NULL,
    last_seen           timestamptz NOT NULL,
    last_ok             boolean     NOT NULL,
    last_status_code    smallint,
    last_error_kind     text,
    last_error_message  text,
    last_monitor        text        NOT NULL,
    last_check_id       uuid        NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 50);

-- Retention of dead letters by age.
CREATE INDEX rejected_messages_rejected_at ON rejected_messages (rejected_at);

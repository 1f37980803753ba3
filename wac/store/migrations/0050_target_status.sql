-- `targets` becomes the one read model of a target's current status (`wac report`, the
-- dashboard, the status pages): the store also keeps since when the status (up or
-- down) holds, the newest check's response time, and the latest certificate expiry.
ALTER TABLE targets
    ADD COLUMN status_since          timestamptz,
    ADD COLUMN last_response_time_ms double precision,
    ADD COLUMN tls_expires_at        timestamptz;

-- Rows written before these columns are filled from the stored history. Each lookup
-- goes through an index: the newest check's key, the rollups' partial indexes on
-- failing minutes and on certificates, and raw rows only after the rollup watermark or
-- inside the one rolled-up bucket that holds the answer.
CREATE TEMP TABLE wac_rollup_mark ON COMMIT DROP AS
SELECT coalesce((SELECT watermark FROM rollup_state), '-infinity'::timestamptz) AS at;

UPDATE targets t SET
    last_response_time_ms = (
        SELECT c.response_time_ms FROM checks c
        WHERE c.target = t.target AND c.checked_at = t.last_seen AND c.id = t.last_check_id),
    tls_expires_at = coalesce(
        (SELECT c.tls_expires_at FROM checks c, wac_rollup_mark w
         WHERE c.target = t.target AND c.checked_at >= w.at AND c.checked_at <= t.last_seen
           AND c.tls_expires_at IS NOT NULL ORDER BY c.checked_at DESC LIMIT 1),
        (SELECT r.tls_expires_at FROM rollup_minute r
         WHERE r.target = t.target AND r.tls_expires_at IS NOT NULL
         ORDER BY r.bucket DESC LIMIT 1),
        (SELECT r.tls_expires_at FROM rollup_hour r
         WHERE r.target = t.target AND r.tls_expires_at IS NOT NULL
         ORDER BY r.bucket DESC LIMIT 1));

-- Since when: the first check after the newest check of the other status. That check
-- is in the raw rows after the watermark, else in the newest rolled-up minute (then
-- hour) that holds one; none at all: the status has held since the target was first
-- seen.
CREATE TEMP TABLE wac_other_status ON COMMIT DROP AS
SELECT t.target, t.last_seen, t.first_seen, t.last_ok,
    (SELECT max(c.checked_at) FROM checks c, wac_rollup_mark w
     WHERE c.target = t.target AND c.checked_at >= w.at AND c.checked_at <= t.last_seen
       AND c.ok <> t.last_ok) AS raw_at,
    CASE WHEN t.last_ok
        THEN (SELECT max(r.bucket) FROM rollup_minute r WHERE r.target = t.target
              AND r.bucket <= t.last_seen AND r.failures > 0)
        ELSE (SELECT max(r.bucket) FROM rollup_minute r WHERE r.target = t.target
              AND r.bucket <= t.last_seen AND r.failures < r.checks)
    END AS minute_at,
    CASE WHEN t.last_ok
        THEN (SELECT max(r.bucket) FROM rollup_hour r WHERE r.target = t.target
              AND r.bucket <= t.last_seen AND r.failures > 0)
        ELSE (SELECT max(r.bucket) FROM rollup_hour r WHERE r.target = t.target
              AND r.bucket <= t.last_seen AND r.failures < r.checks)
    END AS hour_at
FROM targets t;

-- The bucket that holds it: [lo, hi).
CREATE TEMP TABLE wac_other_bucket ON COMMIT DROP AS
SELECT target, last_seen, first_seen, last_ok, raw_at,
    coalesce(minute_at, hour_at) AS lo,
    coalesce(minute_at + interval '1 minute', hour_at + interval '1 hour') AS hi
FROM wac_other_status;

UPDATE targets t SET status_since = coalesce(
    (SELECT min(c.checked_at) FROM checks c
     WHERE c.target = o.target AND c.checked_at > o.other_at AND c.checked_at <= o.last_seen
       AND c.checked_at < o.other_at + interval '1 day'),
    o.other_at,  -- the raw rows after it were dropped by retention
    o.first_seen)
FROM (
    SELECT b.target, b.last_seen, b.first_seen, coalesce(b.raw_at, (
        SELECT coalesce(max(c.checked_at), b.hi)  -- the bucket's end when its rows are gone
        FROM checks c WHERE c.target = b.target AND c.ok <> b.last_ok
          AND c.checked_at >= b.lo AND c.checked_at < b.hi)) AS other_at
    FROM wac_other_bucket b
) o
WHERE t.target = o.target;

ALTER TABLE targets ALTER COLUMN status_since SET NOT NULL;

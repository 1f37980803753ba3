-- Rollups of `checks` for reports and the dashboard (wac/rollups/job.py keeps them current).
--
-- Three tiers with the same columns: rollup_minute (the unit the rollup job recomputes
-- from raw rows), rollup_hour (sums of minutes) and rollup_day (sums of hours), all on
-- UTC boundaries. A window is answered from whole days, then whole hours, then minutes
-- at its edges, plus raw rows newer than the watermark: a year of 1,000 targets reads
-- about 400,000 rollup rows instead of 525 million checks.
--
-- Counters are NULL rather than 0 when nothing was counted (NULLs take no space and
-- sum() skips them). fail_* count the failed checks (ok = false) by error kind.
-- rt_bNN is a histogram of response_time_ms over the fixed bucket bounds in
-- wac/rollups/tiers.py (RESPONSE_TIME_BOUNDS_MS): bucket 0 below the first bound, bucket NN
-- from bound NN (1-based) up to the next, bucket 51 at or above the last.
-- *_ms_sum are phase times summed over the checks that have a response time (null
-- phases count as 0), so sum / rt_count is the average of each phase.
CREATE TABLE rollup_minute (
    target text NOT NULL,
    bucket timestamptz NOT NULL,
    checks integer NOT NULL,
    failures integer NOT NULL,
    fail_dns integer,
    fail_connect integer,
    fail_timeout integer,
    fail_tls integer,
    fail_status integer,
    fail_pattern integer,
    fail_protocol integer,
    fail_too_large integer,
    fail_other integer,
    rt_count integer,
    rt_sum double precision,
    rt_min double precision,
    rt_max double precision,
    resolve_ms_sum double precision,
    connect_ms_sum double precision,
    tls_ms_sum double precision,
    processing_ms_sum double precision,
    transfer_ms_sum double precision,
    tls_expires_at timestamptz,
    rt_b00 integer,
    rt_b01 integer,
    rt_b02 integer,
    rt_b03 integer,
    rt_b04 integer,
    rt_b05 integer,
    rt_b06 integer,
    rt_b07 integer,
    rt_b08 integer,
    rt_b09 integer,
    rt_b10 integer,
    rt_b11 integer,
    rt_b12 integer,
    rt_b13 integer,
    rt_b14 integer,
    rt_b15 integer,
    rt_b16 integer,
    rt_b17 integer,
    rt_b18 integer,
    rt_b19 integer,
    rt_b20 integer,
    rt_b21 integer,
    rt_b22 integer,
    rt_b23 integer,
    rt_b24 integer,
    rt_b25 integer,
    rt_b26 integer,
    rt_b27 integer,
    rt_b28 integer,
    rt_b29 integer,
    rt_b30 integer,
    rt_b31 integer,
    rt_b32 integer,
    rt_b33 integer,
    rt_b34 integer,
    rt_b35 integer,
    rt_b36 integer,
    rt_b37 integer,
    rt_b38 integer,
    rt_b39 integer,
    rt_b40 integer,
    rt_b41 integer,
    rt_b42 integer,
    rt_b43 integer,
    rt_b44 integer,
    rt_b45 integer,
    rt_b46 integer,
    rt_b47 integer,
    rt_b48 integer,
    rt_b49 integer,
    rt_b50 integer,
    rt_b51 integer,
    PRIMARY KEY (target, bucket)
);
-- Whole-fleet windows read by time; "last failure", "last certificate" of one target
-- walk small partial indexes backwards instead of every bucket of the target.
CREATE INDEX rollup_minute_bucket ON rollup_minute (bucket);
CREATE INDEX rollup_minute_failing ON rollup_minute (target, bucket) WHERE failures > 0;
CREATE INDEX rollup_minute_tls ON rollup_minute (target, bucket) WHERE tls_expires_at IS NOT NULL;

CREATE TABLE rollup_hour (LIKE rollup_minute INCLUDING ALL);
CREATE TABLE rollup_day (LIKE rollup_minute INCLUDING ALL);

-- Every target ever rolled up, with its URL: the dashboard's list of targets.
CREATE TABLE rollup_targets (
    target text PRIMARY KEY,
    url text NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen timestamptz NOT NULL
);

-- One row: minutes before `watermark` are in rollup_minute; raw rows at or after it
-- are read from `checks`. NULL watermark = never run: the first run backfills from the
-- oldest check. Minutes before `minute_horizon` were pruned (hours and days remain).
CREATE TABLE rollup_state (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    watermark timestamptz,
    minute_horizon timestamptz,
    deep_recheck_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO rollup_state (id) VALUES (true);

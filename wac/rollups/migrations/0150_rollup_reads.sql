-- Reads of the rollup tiers (wac/reports/queries.py) get cheaper.
--
-- 1. Readers sum tier rows as they are, in one aggregation, and check the sums (a time
--    in ms out of range, NaN, an expiry out of range read as unknown) instead of every
--    row: the rollup job has only ever written checked values since the store refused
--    such values, so the rows rolled up before that are checked here once.
-- 2. The overview's uptimes and its sort by uptime read only `checks` and `failures` of
--    every target over a window: the index on `bucket` carries them (and `target`), so
--    those reads are index-only scans of narrow entries instead of the wide rows.
UPDATE rollup_minute SET
    rt_sum = CASE WHEN rt_sum >= 0 AND rt_sum <= coalesce(rt_count, 0) * 86400000.0 THEN rt_sum END,
    resolve_ms_sum = CASE WHEN resolve_ms_sum >= 0 AND resolve_ms_sum <= coalesce(rt_count, 0) * 86400000.0 THEN resolve_ms_sum END,
    connect_ms_sum = CASE WHEN connect_ms_sum >= 0 AND connect_ms_sum <= coalesce(rt_count, 0) * 86400000.0 THEN connect_ms_sum END,
    tls_ms_sum = CASE WHEN tls_ms_sum >= 0 AND tls_ms_sum <= coalesce(rt_count, 0) * 86400000.0 THEN tls_ms_sum END,
    processing_ms_sum = CASE WHEN processing_ms_sum >= 0 AND processing_ms_sum <= coalesce(rt_count, 0) * 86400000.0 THEN processing_ms_sum END,
    transfer_ms_sum = CASE WHEN transfer_ms_sum >= 0 AND transfer_ms_sum <= coalesce(rt_count, 0) * 86400000.0 THEN transfer_ms_sum END,
    rt_min = CASE WHEN rt_min >= 0 AND rt_min <= 86400000.0 THEN rt_min END,
    rt_max = CASE WHEN rt_max >= 0 AND rt_max <= 86400000.0 THEN rt_max END,
    tls_expires_at = CASE WHEN tls_expires_at >= '1950-01-01 00:00:00+00' AND tls_expires_at <= '9999-12-31 23:59:59.999999+00' THEN tls_expires_at END
WHERE NOT coalesce(rt_sum >= 0 AND rt_sum <= coalesce(rt_count, 0) * 86400000.0, rt_sum IS NULL)
   OR NOT coalesce(resolve_ms_sum >= 0 AND resolve_ms_sum <= coalesce(rt_count, 0) * 86400000.0, resolve_ms_sum IS NULL)
   OR NOT coalesce(connect_ms_sum >= 0 AND connect_ms_sum <= coalesce(rt_count, 0) * 86400000.0, connect_ms_sum IS NULL)
   OR NOT coalesce(tls_ms_sum >= 0 AND tls_ms_sum <= coalesce(rt_count, 0) * 86400000.0, tls_ms_sum IS NULL)
   OR NOT coalesce(processing_ms_sum >= 0 AND processing_ms_sum <= coalesce(rt_count, 0) * 86400000.0, processing_ms_sum IS NULL)
   OR NOT coalesce(transfer_ms_sum >= 0 AND transfer_ms_sum <= coalesce(rt_count, 0) * 86400000.0, transfer_ms_sum IS NULL)
   OR NOT coalesce(rt_min >= 0 AND rt_min <= 86400000.0, rt_min IS NULL)
   OR NOT coalesce(rt_max >= 0 AND rt_max <= 86400000.0, rt_max IS NULL)
   OR NOT coalesce(tls_expires_at >= '1950-01-01 00:00:00+00' AND tls_expires_at <= '9999-12-31 23:59:59.999999+00', tls_expires_at IS NULL);
UPDATE rollup_hour SET
    rt_sum = CASE WHEN rt_sum >= 0 AND rt_sum <= coalesce(rt_count, 0) * 86400000.0 THEN rt_sum END,
    resolve_ms_sum = CASE WHEN resolve_ms_sum >= 0 AND resolve_ms_sum <= coalesce(rt_count, 0) * 86400000.0 THEN resolve_ms_sum END,
    connect_ms_sum = CASE WHEN connect_ms_sum >= 0 AND connect_ms_sum <= coalesce(rt_count, 0) * 86400000.0 THEN connect_ms_sum END,
    tls_ms_sum = CASE WHEN tls_ms_sum >= 0 AND tls_ms_sum <= coalesce(rt_count, 0) * 86400000.0 THEN tls_ms_sum END,
    processing_ms_sum = CASE WHEN processing_ms_sum >= 0 AND processing_ms_sum <= coalesce(rt_count, 0) * 86400000.0 THEN processing_ms_sum END,
    transfer_ms_sum = CASE WHEN transfer_ms_sum >= 0 AND transfer_ms_sum <= coalesce(rt_count, 0) * 86400000.0 THEN transfer_ms_sum END,
    rt_min = CASE WHEN rt_min >= 0 AND rt_min <= 86400000.0 THEN rt_min END,
    rt_max = CASE WHEN rt_max >= 0 AND rt_max <= 86400000.0 THEN rt_max END,
    tls_expires_at = CASE WHEN tls_expires_at >= '1950-01-01 00:00:00+00' AND tls_expires_at <= '9999-12-31 23:59:59.999999+00' THEN tls_expires_at END
WHERE NOT coalesce(rt_sum >= 0 AND rt_sum <= coalesce(rt_count, 0) * 86400000.0, rt_sum IS NULL)
   OR NOT coalesce(resolve_ms_sum >= 0 AND resolve_ms_sum <= coalesce(rt_count, 0) * 86400000.0, resolve_ms_sum IS NULL)
   OR NOT coalesce(connect_ms_sum >= 0 AND connect_ms_sum <= coalesce(rt_count, 0) * 86400000.0, connect_ms_sum IS NULL)
   OR NOT coalesce(tls_ms_sum >= 0 AND tls_ms_sum <= coalesce(rt_count, 0) * 86400000.0, tls_ms_sum IS NULL)
   OR NOT coalesce(processing_ms_sum >= 0 AND processing_ms_sum <= coalesce(rt_count, 0) * 86400000.0, processing_ms_sum IS NULL)
   OR NOT coalesce(transfer_ms_sum >= 0 AND transfer_ms_sum <= coalesce(rt_count, 0) * 86400000.0, transfer_ms_sum IS NULL)
   OR NOT coalesce(rt_min >= 0 AND rt_min <= 86400000.0, rt_min IS NULL)
   OR NOT coalesce(rt_max >= 0 AND rt_max <= 86400000.0, rt_max IS NULL)
   OR NOT coalesce(tls_expires_at >= '1950-01-01 00:00:00+00' AND tls_expires_at <= '9999-12-31 23:59:59.999999+00', tls_expires_at IS NULL);
UPDATE rollup_day SET
    rt_sum = CASE WHEN rt_sum >= 0 AND rt_sum <= coalesce(rt_count, 0) * 86400000.0 THEN rt_sum END,
    resolve_ms_sum = CASE WHEN resolve_ms_sum >= 0 AND resolve_ms_sum <= coalesce(rt_count, 0) * 86400000.0 THEN resolve_ms_sum END,
    connect_ms_sum = CASE WHEN connect_ms_sum >= 0 AND connect_ms_sum <= coalesce(rt_count, 0) * 86400000.0 THEN connect_ms_sum END,
    tls_ms_sum = CASE WHEN tls_ms_sum >= 0 AND tls_ms_sum <= coalesce(rt_count, 0) * 86400000.0 THEN tls_ms_sum END,
    processing_ms_sum = CASE WHEN processing_ms_sum >= 0 AND processing_ms_sum <= coalesce(rt_count, 0) * 86400000.0 THEN processing_ms_sum END,
    transfer_ms_sum = CASE WHEN transfer_ms_sum >= 0 AND transfer_ms_sum <= coalesce(rt_count, 0) * 86400000.0 THEN transfer_ms_sum END,
    rt_min = CASE WHEN rt_min >= 0 AND rt_min <= 86400000.0 THEN rt_min END,
    rt_max = CASE WHEN rt_max >= 0 AND rt_max <= 86400000.0 THEN rt_max END,
    tls_expires_at = CASE WHEN tls_expires_at >= '1950-01-01 00:00:00+00' AND tls_expires_at <= '9999-12-31 23:59:59.999999+00' THEN tls_expires_at END
WHERE NOT coalesce(rt_sum >= 0 AND rt_sum <= coalesce(rt_count, 0) * 86400000.0, rt_sum IS NULL)
   OR NOT coalesce(resolve_ms_sum >= 0 AND resolve_ms_sum <= coalesce(rt_count, 0) * 86400000.0, resolve_ms_sum IS NULL)
   OR NOT coalesce(connect_ms_sum >= 0 AND connect_ms_sum <= coalesce(rt_count, 0) * 86400000.0, connect_ms_sum IS NULL)
   OR NOT coalesce(tls_ms_sum >= 0 AND tls_ms_sum <= coalesce(rt_count, 0) * 86400000.0, tls_ms_sum IS NULL)
   OR NOT coalesce(processing_ms_sum >= 0 AND processing_ms_sum <= coalesce(rt_count, 0) * 86400000.0, processing_ms_sum IS NULL)
   OR NOT coalesce(transfer_ms_sum >= 0 AND transfer_ms_sum <= coalesce(rt_count, 0) * 86400000.0, transfer_ms_sum IS NULL)
   OR NOT coalesce(rt_min >= 0 AND rt_min <= 86400000.0, rt_min IS NULL)
   OR NOT coalesce(rt_max >= 0 AND rt_max <= 86400000.0, rt_max IS NULL)
   OR NOT coalesce(tls_expires_at >= '1950-01-01 00:00:00+00' AND tls_expires_at <= '9999-12-31 23:59:59.999999+00', tls_expires_at IS NULL);
CREATE INDEX rollup_minute_bucket_counts ON rollup_minute (bucket) INCLUDE (target, checks, failures);
DROP INDEX rollup_minute_bucket;
CREATE INDEX rollup_hour_bucket_counts ON rollup_hour (bucket) INCLUDE (target, checks, failures);
DROP INDEX rollup_hour_bucket_idx;
CREATE INDEX rollup_day_bucket_counts ON rollup_day (bucket) INCLUDE (target, checks, failures);
DROP INDEX rollup_day_bucket_idx;

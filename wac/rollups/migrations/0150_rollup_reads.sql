-- Reads of the rollup tiers (wac/reports/queries.py) get cheaper.
--
-- 1. Readers sum tier rows as they are, in one aggregation, and check the sums (a time
--    in ms out of range, NaN, an expiry out of range read as unknown) instead of every
--    row: the rollup job has only ever written checked values since the store refused
--    such values, so the rows rolled up before that are checked here once.
-- 2. The overview's uptimes and its sort by uptime read only `checks` and `failures` of
--    every target over a window: the index on `bucket` carries them (and `target`), so
--    those reads are index-only scans of narrow entries instead of the wide rows.
DO $migration$
DECLARE
    ms_sums text[] := ARRAY['rt_sum', 'resolve_ms_sum', 'connect_ms_sum', 'tls_ms_sum',
                            'processing_ms_sum', 'transfer_ms_sum'];
    columns text[];
    checks text[] := '{}';  -- what a sane value of each of `columns` is
    sets text;
    wrong text;
    tier text;
BEGIN
    FOR i IN 1 .. array_length(ms_sums, 1) LOOP
        checks := checks || format('%1$I >= 0 AND %1$I <= coalesce(rt_count, 0) * 86400000.0',
                                   ms_sums[i]);
    END LOOP;
    columns := ms_sums || ARRAY['rt_min', 'rt_max', 'tls_expires_at'];
    checks := checks
        || format('%1$I >= 0 AND %1$I <= 86400000.0', 'rt_min')
        || format('%1$I >= 0 AND %1$I <= 86400000.0', 'rt_max')
        || format('%1$I >= %2$L AND %1$I <= %3$L', 'tls_expires_at',
                  '1950-01-01 00:00:00+00', '9999-12-31 23:59:59.999999+00');
    SELECT string_agg(format('%1$I = CASE WHEN %2$s THEN %1$I END', c, sane), ', '),
           string_agg(format('NOT coalesce(%2$s, %1$I IS NULL)', c, sane), ' OR ')
      INTO sets, wrong
      FROM unnest(columns, checks) AS t(c, sane);
    FOREACH tier IN ARRAY ARRAY['rollup_minute', 'rollup_hour', 'rollup_day'] LOOP
        EXECUTE format('UPDATE %I SET %s WHERE %s', tier, sets, wrong);
    END LOOP;
END
$migration$;
CREATE INDEX rollup_minute_bucket_counts ON rollup_minute (bucket) INCLUDE (target, checks, failures);
DROP INDEX rollup_minute_bucket;
CREATE INDEX rollup_hour_bucket_counts ON rollup_hour (bucket) INCLUDE (target, checks, failures);
DROP INDEX rollup_hour_bucket_idx;
CREATE INDEX rollup_day_bucket_counts ON rollup_day (bucket) INCLUDE (target, checks, failures);
DROP INDEX rollup_day_bucket_idx;

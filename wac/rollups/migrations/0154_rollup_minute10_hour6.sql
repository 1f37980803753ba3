-- Two more rollup tiers between the others: rollup_minute10 (10 minutes, summed from
-- minutes; pruned with them) and rollup_hour6 (6 hours, summed from hours). The rollup
-- job (wac/rollups/job.py) keeps them current as it keeps the others, each tier from the
-- one below it: 10 minutes from minutes, hours from 10 minutes, 6 hours from hours, days
-- from 6 hours, weeks from days. Same columns and indexes as the others; buckets every
-- 10 minutes and 6 hours from the Unix epoch (00:00, 06:00, 12:00, 18:00 UTC).
--
-- A window's start edge then reads at most 9 minute rows, 5 of 10 minutes, 5 hours and
-- 3 of 6 hours a target (about 11 on average) instead of up to 59 minutes and 23 hours
-- (about 41 on average) (wac/reports/window.py).
CREATE TABLE rollup_minute10 (LIKE rollup_minute INCLUDING ALL);
CREATE TABLE rollup_hour6 (LIKE rollup_hour INCLUDING ALL);

-- The buckets of the rows rolled up so far, summed as the job sums them (tier rows hold
-- checked values only, migration 0150). Extremes and the certificate expiry are the
-- rows' min and max, every other column their sum.
DO $migration$
DECLARE
    columns text;
    sums text;
    tier record;
BEGIN
    SELECT string_agg(format('%I', attname), ', ' ORDER BY attnum),
           string_agg(format('%s(%I)',
                             CASE attname WHEN 'rt_min' THEN 'min'
                                          WHEN 'rt_max' THEN 'max'
                                          WHEN 'tls_expires_at' THEN 'max'
                                          ELSE 'sum' END,
                             attname), ', ' ORDER BY attnum)
      INTO columns, sums
      FROM pg_attribute
     WHERE attrelid = 'rollup_hour'::regclass AND attnum > 0 AND NOT attisdropped
       AND attname NOT IN ('target', 'bucket');
    FOR tier IN SELECT * FROM (VALUES ('rollup_minute10', 'rollup_minute', '10 minutes'),
                                      ('rollup_hour6', 'rollup_hour', '6 hours'))
                              AS t(name, below, unit) LOOP
        EXECUTE format(
            'INSERT INTO %I (target, bucket, %s) '
            'SELECT target, date_bin(%L::interval, bucket, '
            'timestamptz ''1970-01-01 00:00:00+00''), %s FROM %I GROUP BY 1, 2',
            tier.name, columns, tier.unit, sums, tier.below);
    END LOOP;
END
$migration$;

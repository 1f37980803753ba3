-- A fourth rollup tier, rollup_week: sums of 7 day rows (wac/rollups/job.py keeps it
-- current as it keeps the days, from the days below it), with the columns and indexes
-- of the others. Weeks start on Thursdays at 00:00 UTC, every 7 days from the Unix
-- epoch, as every bucket boundary of the tiers and the series' bins are counted.
--
-- A window then reads whole weeks, whole days only at its edges: a year of a target
-- is about 52 week rows and 6 day rows instead of 365 day rows, 30 days about 4 week
-- rows and 6 day rows instead of 29 (wac/reports/window.py).
CREATE TABLE rollup_week (LIKE rollup_day INCLUDING ALL);

-- The weeks of the days rolled up so far, summed as the job sums them (the day rows
-- hold checked values only, migration 0150). Extremes and the certificate expiry are
-- the days' min and max, every other column their sum.
DO $migration$
DECLARE
    columns text;
    sums text;
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
     WHERE attrelid = 'rollup_day'::regclass AND attnum > 0 AND NOT attisdropped
       AND attname NOT IN ('target', 'bucket');
    EXECUTE format(
        'INSERT INTO rollup_week (target, bucket, %s) '
        'SELECT target, date_bin(interval ''7 days'', bucket, '
        'timestamptz ''1970-01-01 00:00:00+00''), %s FROM rollup_day GROUP BY 1, 2',
        columns, sums);
END
$migration$;

-- The list of targets is the store's `targets` table (their current status, one row
-- per target): the rollups' own list of them has no reader left.
DROP TABLE IF EXISTS rollup_targets;

"""The answers `wac report`, the dashboard and the status pages show: the current status
of targets (the store's `targets` table), summaries per target over any window and time
series (the rollups, see wac.rollups.tiers, plus the raw rows newer than the rollup
watermark), failure runs, and the alerts' incidents."""

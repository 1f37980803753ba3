"""Answers from the stored history: summaries per target over any window, status,
time series, incidents. Used by `wac report` and `wac web`; reads rollups (see
wac.rollups.tiers) plus the raw rows newer than the rollup watermark."""

"""Rollups of `checks`: the tiers' shape (`tiers`) and the job that keeps them current (`job`)."""

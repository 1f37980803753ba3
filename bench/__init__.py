"""Benchmarks: harnesses that print the figures of docs/quality-bars.md."""

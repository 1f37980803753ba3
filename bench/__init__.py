"""Benchmarks: harnesses that print the quality-bar figures of DESIGN.md."""

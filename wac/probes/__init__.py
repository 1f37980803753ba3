"""Probers: one module per protocol, each turning a Target into a CheckResult."""

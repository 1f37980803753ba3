"""Alerts: `wac alert` turns results into incidents and notifications (one module per notifier)."""

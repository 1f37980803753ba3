"""Prometheus counters of `wac alert` (served by `wac alert --metrics-port N`)."""

from __future__ import annotations

from prometheus_client import Counter

RESULTS = Counter("wac_alert_results", "Check results consumed by wac alert")
REJECTED = Counter(
    "wac_alert_rejected_messages",
    "Messages skipped because they are not v1 results (kept in rejected_messages)",
)
INCIDENTS = Counter("wac_alert_incidents_opened", "Incidents opened")
SENT = Counter("wac_alert_deliveries", "Notifications and events delivered", ["channel"])
FAILED = Counter(
    "wac_alert_delivery_failures", "Failed delivery attempts (each retried later)", ["channel"]
)
GAVE_UP = Counter(
    "wac_alert_delivery_abandoned",
    "Deliveries given up: after give_up_after, or at once when refused for good (a 4xx)",
    ["channel"],
)

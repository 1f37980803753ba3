"""The dashboard: `wac web` (see wac/web/app.py)."""

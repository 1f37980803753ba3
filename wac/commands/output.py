"""How results are shown on a terminal."""

from __future__ import annotations

import sys

import click

from wac.result import CheckResult
from wac.safe_text import visible


def format_result_table(result: CheckResult) -> str:
    p = result.phases

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} ms"

    rows = [
        ("url", result.url),
        ("ok", "yes" if result.ok else "NO"),
        ("status", str(result.status_code) if result.status_code is not None else "-"),
        ("response time", ms(result.response_time_ms)),
        ("  resolve", ms(p.resolve)),
        ("  connect", ms(p.connect)),
        ("  tls", ms(p.tls)),
        ("  processing", ms(p.processing)),
        ("  transfer", ms(p.transfer)),
    ]
    if result.pattern is not None:
        rows.append(("pattern", f"{result.pattern!r} matched: {result.pattern_matched}"))
    if result.tls_expires_at is not None:
        rows.append(("certificate expires", result.tls_expires_at.isoformat()))
    if result.final_url is not None:
        rows.append(("final url", result.final_url))
    if result.error is not None:
        rows.append(("error", f"{result.error.kind}: {result.error.message}"))
    rows.append(("checked at", result.checked_at.isoformat()))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def print_result_line(result: CheckResult, verb: str = "checked") -> None:
    status = result.status_code if result.status_code is not None else "---"
    took = f"{result.response_time_ms:.1f}ms" if result.response_time_ms is not None else "-"
    state = "UP  " if result.ok else "DOWN"
    reason = f" {result.error.kind}: {result.error.message}" if result.error else ""
    line = f"{result.checked_at:%H:%M:%S} {verb} {state} {status} {took:>9} {result.target}{reason}"
    click.echo(visible(line), nl=True)
    sys.stdout.flush()


def print_stored(results: list[CheckResult]) -> None:
    for result in results:
        print_result_line(result, "stored")

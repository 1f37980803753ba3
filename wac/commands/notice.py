"""`wac notice add|list|delete`: announcements and maintenance posts of status pages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from wac.commands.common import config_option, reports_errors
from wac.config import load_settings
from wac.errors import ConfigError


@click.group()
def notice() -> None:
    """Notices (announcements, maintenance) shown on status pages and in their feeds."""


@notice.command("add")
@click.option("--page", "page", required=True, help="Slug of the status page.")
@click.option("--title", required=True, help="One line, at most 120 characters.")
@click.option("--body", default=None, help="Text below the title (at most 5,000 characters).")
@click.option(
    "--kind",
    type=click.Choice(["info", "maintenance"]),
    default="info",
    show_default=True,
    help="maintenance needs --starts and --ends.",
)
@click.option("--starts", default=None, help="ISO 8601 time (UTC when no zone is given).")
@click.option("--ends", default=None, help="ISO 8601 time; the notice leaves the top then.")
@config_option(
    "Targets file: check that the page is one of its status_pages.",
)
@reports_errors
def add(
    page: str,
    title: str,
    body: str | None,
    kind: str,
    starts: str | None,
    ends: str | None,
    config: Path | None,
) -> None:
    """Post a notice on a status page."""
    from wac.db.connect import connect_reader
    from wac.pages.notices import add_notice, parse_notice

    fields = {"title": title, "body": body, "kind": kind, "starts": starts, "ends": ends}
    wanted = parse_notice(page, fields, where="wac notice add")
    if config is not None:
        from wac.pages.config import load_status_pages

        slugs = [p.slug for p in load_status_pages(config)]
        if wanted.page not in slugs:
            raise ConfigError(
                f"wac notice add: {config} has no status page {wanted.page!r} "
                f"(its pages: {', '.join(slugs) or 'none'})"
            )
    with connect_reader(load_settings().postgres(), "wac-notice") as conn:
        added = add_notice(conn, wanted)
    click.echo(f"notice {added.id} added to page {added.page} ({added.state(datetime.now(UTC))})")


@notice.command("list")
@click.option("--page", default=None, help="Only the notices of this page.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@reports_errors
def list_command(page: str | None, as_json: bool) -> None:
    """Every notice, newest first."""
    from wac.db.connect import connect_reader
    from wac.pages.config import check_slug
    from wac.pages.notices import list_notices
    from wac.safe_text import visible

    if page is not None:
        check_slug(page, "--page")
    with connect_reader(load_settings().postgres(), "wac-notice", read_only=True) as conn:
        found = list_notices(conn, page)
    now = datetime.now(UTC)
    if as_json:
        click.echo(json.dumps([n.to_json(now, with_id=True) for n in found], indent=2))
        return
    if not found:
        click.echo("no notices")
        return
    click.echo(
        f"{'id':>6}  {'page':<20} {'kind':<11} {'state':<8} {'starts':<17} {'ends':<17} title"
    )
    for n in found:
        click.echo(
            f"{n.id:>6}  {visible(n.page)[:20]:<20} {n.kind:<11} {n.state(now):<8} "
            f"{_short(n.starts):<17} {_short(n.ends):<17} {visible(n.title)}"
        )


@notice.command("delete")
@click.argument("notice_id", metavar="ID", type=click.IntRange(min=1, max=2**63 - 1))
@reports_errors
def delete(notice_id: int) -> None:
    """Delete a notice (see `wac notice list` for ids)."""
    from wac.db.connect import connect_reader
    from wac.pages.notices import delete_notice

    with connect_reader(load_settings().postgres(), "wac-notice") as conn:
        if not delete_notice(conn, notice_id):
            raise ConfigError(f"wac notice delete: no notice has the id {notice_id}")
    click.echo(f"notice {notice_id} deleted")


def _short(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")

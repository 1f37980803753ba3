"""`wac targets`: managed targets in the targets topic (apply a file, list, get, delete,
pause, resume). The topic is the source of truth; these commands read and write it
directly, so they need Kafka only."""

from __future__ import annotations

import json
from pathlib import Path

import click

from wac.commands.common import reports_errors
from wac.config import load_settings
from wac.errors import ConfigError
from wac.safe_text import visible
from wac.settings.environment import load_environment
from wac.targets import read_targets_file
from wac.targets.definition import Definition, masked_json
from wac.targets.probe_options import push_tokens_deferred
from wac.targets_topic import (
    TargetsTopicSettings,
    ensure_targets_topic,
    publish_definitions,
    read_definitions,
    targets_topic_settings,
)
from wac.targets_topic.plan import plan_apply
from wac.yaml_config import shown


def _topic() -> TargetsTopicSettings:
    settings = targets_topic_settings(load_environment())
    from wac.runtime.kafka import connect_check

    connect_check(settings.kafka)
    return settings


def _shown(target_id: str) -> str:
    return visible(target_id)


@click.group()
def targets() -> None:
    """Managed targets: definitions in the targets topic (KAFKA_TARGETS_TOPIC), which
    `wac monitor --fleet` checks and the store mirrors into PostgreSQL."""


@targets.command("apply")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--prune", is_flag=True, help="Also delete the targets the file does not list.")
@click.option("--dry-run", is_flag=True, help="Print what would change; publish nothing.")
@reports_errors
def apply(file: Path, prune: bool, dry_run: bool) -> None:
    """Bring the targets topic to FILE's targets (a targets file, checked as `wac monitor
    --config` checks it). Prints what it adds, changes and, with --prune, removes."""
    env = load_environment()
    with push_tokens_deferred():  # a push token is read by `wac web`, where pings come
        targets_file = read_targets_file(file, default_timeout=load_settings(env).check_timeout)
    settings = _topic()
    if not dry_run:
        ensure_targets_topic(settings)
    plan = plan_apply(read_definitions(settings), targets_file.targets, prune=prune)
    for definition in plan.added:
        click.echo(f"add     {_shown(definition.id)}")
    for definition, fields in plan.changed:
        click.echo(f"change  {_shown(definition.id)} ({', '.join(fields)})")
    for target_id in plan.removed:
        click.echo(f"remove  {_shown(target_id)}")
    changes = plan.changes
    summary = (
        f"{len(plan.added)} added, {len(plan.changed)} changed, {len(plan.removed)} removed"
        if changes
        else f"nothing changed: the topic already holds the {len(targets_file.targets)} "
        f"targets of {file}"
    )
    if plan.kept:
        summary += f"; {len(plan.kept)} not in {file} kept (--prune deletes them)"
    if changes and dry_run:
        summary += " (dry run: nothing published)"
    elif changes:
        publish_definitions(settings, changes)
    click.echo(summary)


@targets.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the definitions as JSON.")
@reports_errors
def list_targets(as_json: bool) -> None:
    """List the managed targets (credentials in URLs and secret headers shown as ***)."""
    found = read_definitions(_topic())
    ordered = [found[k] for k in sorted(found)]
    if as_json:
        click.echo(json.dumps([{"id": d.id, **masked_json(d)} for d in ordered], indent=2))
        return
    if not ordered:
        click.echo("no managed targets (add some with `wac targets apply FILE`)")
        return
    width = min(40, max(len(d.id) for d in ordered))
    for definition in ordered:
        target = definition.target
        state = "paused" if definition.paused else "active"
        click.echo(
            visible(
                f"{definition.id.ljust(width)}  {state}  every {target.interval:g}s  "
                f"{target.public_url}"
            )
        )


def _one(settings: TargetsTopicSettings, target_id: str) -> Definition:
    found = read_definitions(settings).get(target_id)
    if found is None:
        raise ConfigError(
            f"no managed target {shown(target_id)}: `wac targets list` shows their ids"
        )
    return found


@targets.command("get")
@click.argument("target_id", metavar="ID")
@reports_errors
def get(target_id: str) -> None:
    """Print one target's definition as JSON (secrets shown as ***)."""
    definition = _one(_topic(), target_id)
    click.echo(json.dumps({"id": definition.id, **masked_json(definition)}, indent=2))


@targets.command("delete")
@click.argument("target_id", metavar="ID")
@reports_errors
def delete(target_id: str) -> None:
    """Delete a managed target (a tombstone in the topic)."""
    settings = _topic()
    _one(settings, target_id)
    publish_definitions(settings, {target_id: None})
    click.echo(f"deleted {_shown(target_id)}")


def _set_paused(target_id: str, paused: bool) -> None:
    settings = _topic()
    definition = _one(settings, target_id)
    word = "paused" if paused else "resumed"
    if definition.paused == paused:
        click.echo(f"{_shown(target_id)} is already {'paused' if paused else 'active'}")
        return
    publish_definitions(settings, {target_id: Definition(definition.target, paused=paused)})
    click.echo(f"{word} {_shown(target_id)}")


@targets.command("pause")
@click.argument("target_id", metavar="ID")
@reports_errors
def pause(target_id: str) -> None:
    """Stop checking a target, keeping its definition."""
    _set_paused(target_id, True)


@targets.command("resume")
@click.argument("target_id", metavar="ID")
@reports_errors
def resume(target_id: str) -> None:
    """Check a paused target again."""
    _set_paused(target_id, False)

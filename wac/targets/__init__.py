"""Targets: what to check, how often, and what counts as up.

Targets come from the command line (URLs), from a YAML file (the format of the README's
targets section), or as JSON values (the same fields). Every mistake is a ConfigError
naming the target and the field.

- `target`: `Target`, the checked form the monitor and the probes use;
- `fields`: each field's parser, default and JSON form, in one table;
- `entry`: an entry (file mapping, JSON value, URL) to a `Target`, and its JSON form;
- `document`: the targets file, read once into a `TargetsFile`.
"""

from wac.settings.durations import check_seconds, parse_duration
from wac.targets.document import (
    TargetsFile,
    load_targets_file,
    parse_targets_document,
    parse_targets_file,
    read_targets_file,
)
from wac.targets.entry import target_from_json, target_from_url, target_to_json
from wac.targets.fields import FIELDS, check_target_id, check_url, compile_pattern, parse_size
from wac.targets.target import (
    DEFAULT_INTERVAL,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_REDIRECTS,
    HTTP_METHODS,
    Target,
    default_target_id,
)
from wac.yaml_config import reject_unknown_keys

__all__ = [
    "DEFAULT_INTERVAL",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_REDIRECTS",
    "FIELDS",
    "HTTP_METHODS",
    "Target",
    "TargetsFile",
    "check_seconds",
    "check_target_id",
    "check_url",
    "compile_pattern",
    "default_target_id",
    "load_targets_file",
    "parse_duration",
    "parse_size",
    "parse_targets_document",
    "parse_targets_file",
    "read_targets_file",
    "reject_unknown_keys",
    "target_from_json",
    "target_from_url",
    "target_to_json",
]

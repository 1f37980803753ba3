"""Reading a YAML configuration (the targets file, with its `alerts:` section) safely.

This is the one YAML loader: the targets file is read once, through it, into typed
structures (wac.targets.document, then the `alerts:` and `status_pages:` sections),
each refusing keys it does not know (`reject_unknown_keys`).

Every YAML file wac reads goes through `parse_yaml`, with the same rules:

- The bytes must be UTF-8.
- libyaml's C parser composes the node graph (time linear in the text; it refuses
  nesting deeper than 1,000 levels).
- Our own constructor, rather than PyYAML's, turns nodes into Python values, and
  refuses what PyYAML lets through:
  - a key written twice in one mapping (PyYAML silently keeps the last);
  - aliases that expand the document past a budget proportional to its length: a
    "billion laughs" file is refused having built each distinct node once, since an
    aliased value is built once, shared, and only its expanded size is counted;
  - an alias inside the value it names (a recursive structure);
  - nesting deeper than `MAX_DEPTH`;
  - tags other than YAML's standard scalars, lists and mappings (no `!!set`,
    `!!omap`, `!custom`);
  - numbers and dates Python cannot hold (an integer of 5,000 digits, `2024-13-45`).

Every refusal is a ConfigError of one line naming the file, the line and the column.
Being a plain loop over nodes, this constructor is also about twice as fast as
PyYAML's, which matters for files of 100,000 targets.
"""

from __future__ import annotations

import gc
import re
import reprlib
from collections.abc import Iterator, Mapping, Set
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from wac.errors import ConfigError

MAX_DEPTH = 64  # a targets file needs 5; libyaml alone would allow 1,000
EXPANSION_FLOOR = 100_000  # values any document may expand to through aliases

_TAG = "tag:yaml.org,2002:"
_STR = _TAG + "str"
_SEQ = _TAG + "seq"
_MAP = _TAG + "map"
_MERGE = _TAG + "merge"
_SCALAR_TAGS = {
    _TAG + "null": "null",
    _TAG + "bool": "bool",
    _TAG + "int": "int",
    _TAG + "float": "float",
    _TAG + "timestamp": "timestamp",
    _TAG + "binary": "binary",
}


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a while: while a large document and
    what is made of it grow, it rescans them again and again (100,000 targets load
    three times faster without it). Nothing made meanwhile is a garbage cycle."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_yaml_file(path: Path, *, what: str = "targets file") -> Any:
    """The document in the file at `path`; a one-line ConfigError for anything wrong."""
    source = f"{what} {str(path)!r}"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read it ({exc.strerror})") from None
    return parse_yaml(data, source)


def parse_yaml(data: bytes | str, source: str) -> Any:
    """The one YAML document in `data` as plain Python values (None when empty)."""
    if isinstance(data, str):
        try:
            data = data.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ConfigError(f"{source}: not valid text ({exc.reason})") from None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{source}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); "
            "save the file as UTF-8"
        ) from None
    loader = yaml.CSafeLoader(data)
    try:
        with collector_paused():
            node = loader.get_single_node()
            if node is None:
                return None
            budget = EXPANSION_FLOOR + 2 * len(data)
            return _Builder(loader, source, budget).build(node, 0)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {_describe_marked(exc)}") from None
    except yaml.reader.ReaderError as exc:
        line = data.count(b"\n", 0, exc.position) + 1
        raise ConfigError(
            f"{source}: not valid YAML: {exc.reason} (character 0x{exc.character:02x} "
            f"on line {line})"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {one_line(str(exc))}") from None
    finally:
        loader.dispose()


def one_line(text: str) -> str:
    return " ".join(text.split())


_USERINFO = re.compile(r"(://)[^/?#@\s]*@")


def _without_userinfo(text: str) -> str:
    return _USERINFO.sub(r"\1***@", text) if "@" in text else text


class _ValueRepr(reprlib.Repr):
    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 2
        self.maxstring = self.maxother = self.maxlong = 60
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = self.maxfrozenset = 4

    def repr_str(self, x: str, level: int) -> str:
        return super().repr_str(_without_userinfo(x), level)


_VALUE_REPR = _ValueRepr()


def shown(value: object) -> str:
    """A value from a configuration as an error message shows it: its repr, at most about
    60 characters and two levels deep, whatever it holds (even a shared alias tree),
    and without the credentials of anything that looks like a URL."""
    if type(value) is str and len(value) <= 60:
        return repr(_without_userinfo(value))
    return _VALUE_REPR.repr(value)


def reject_unknown_keys(mapping: Mapping[Any, Any], allowed: Set[str], where: str) -> None:
    """A ConfigError naming the first key of `mapping` that is not `allowed`, and those
    that are: every typed section of a configuration refuses keys it does not know."""
    for key in mapping:
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown key {shown(key)}; allowed keys: {', '.join(sorted(allowed))}"
            )


def some_of(names: Set[str]) -> str:
    """A few of the names, for a message that must stay one readable line."""
    first = sorted(names)[:10]
    more = f", ... ({len(names)} in all)" if len(names) > len(first) else ""
    return ", ".join(shown(n) for n in first) + more


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _describe_marked(exc: yaml.MarkedYAMLError) -> str:
    parts = []
    if exc.problem_mark is not None:
        parts.append(f"{_where(exc.problem_mark)}:")
    parts.append(str(exc.problem or exc.context or "unreadable"))
    if exc.context and exc.problem and exc.context_mark is not None:
        parts.append(f"({exc.context} at {_where(exc.context_mark)})")
    return one_line(" ".join(parts))


class _Builder:
    """Nodes to values: each distinct node built once, aliases counted, never expanded."""

    def __init__(self, loader: yaml.CSafeLoader, source: str, budget: int) -> None:
        self._constructor = loader  # PyYAML's scalar constructors (int, float, dates, ...)
        self._source = source
        self._budget = budget
        self._count = 0  # values so far, every alias counted at its expanded size
        self._built: dict[int, tuple[Any, int]] = {}  # id(collection node) -> (value, size)
        self._open: set[int] = set()  # collections being built (an alias to one is a loop)

    def build(self, node: Node, depth: int) -> Any:
        if isinstance(node, ScalarNode):
            self._count += 1
            if node.tag == _STR:
                return node.value
            return self._scalar(node)
        key = id(node)
        done = self._built.get(key)
        if done is not None:  # an alias to a list or mapping built before
            self._count += done[1]
            if self._count > self._budget:
                raise self._error(
                    node,
                    f"aliases expand the document past {self._budget:,} values (an alias "
                    "bomb?); write the values out or use fewer aliases",
                )
            return done[0]
        if key in self._open:
            raise self._error(node, "an alias refers to a value that contains it")
        if depth >= MAX_DEPTH:
            raise self._error(node, f"nested deeper than {MAX_DEPTH} levels")
        start = self._count
        self._count += 1
        self._open.add(key)
        value: Any
        if isinstance(node, SequenceNode) and node.tag == _SEQ:
            value = [self.build(item, depth + 1) for item in node.value]
        elif isinstance(node, MappingNode) and node.tag == _MAP:
            value = self._mapping(node, depth + 1)
        else:
            raise self._error(node, f"the tag {_tag(node)} is not supported here; remove it")
        self._open.discard(key)
        self._built[key] = (value, self._count - start)
        return value

    def _scalar(self, node: ScalarNode) -> Any:
        name = _SCALAR_TAGS.get(node.tag)
        if name is None:
            if node.tag in (_MERGE, _TAG + "value"):  # `<<` or `=` outside a key: text
                return node.value
            raise self._error(node, f"the tag {_tag(node)} is not supported here; remove it")
        construct = getattr(self._constructor, f"construct_yaml_{name}")
        try:
            return construct(node)
        except (ValueError, OverflowError) as exc:
            shown = node.value if len(node.value) <= 40 else node.value[:37] + "..."
            reason = (
                f"{len(node.value)} characters is too long for a number"
                if name == "int"
                else one_line(str(exc))
            )
            raise self._error(node, f"{shown!r} cannot be read as {name}: {reason}") from None

    def _mapping(self, node: MappingNode, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merges.append(value_node)
                continue
            key = self.build(key_node, depth)
            if isinstance(key, list | dict):
                raise self._error(key_node, "a list or mapping cannot be a key")
            if key in result:
                raise self._error(
                    key_node,
                    f"the key {shown(key)} is written twice in this mapping "
                    f"(first on line {self._first_line(node, key, depth)}); keep one",
                )
            result[key] = self.build(value_node, depth)
        if merges:
            result = self._merge(merges, result, depth)
        return result

    def _merge(self, merges: list[Node], own: dict[Any, Any], depth: int) -> dict[Any, Any]:
        """`<<: *defaults` or `<<: [*a, *b]`: keys written out win, then earlier sources."""
        sources: list[dict[Any, Any]] = []
        for value_node in merges:
            value = self.build(value_node, depth)
            if isinstance(value, dict):
                sources.append(value)
            elif isinstance(value, list) and all(isinstance(item, dict) for item in value):
                sources.extend(value)
            else:
                raise self._error(value_node, "`<<` must be given a mapping or a list of them")
        merged: dict[Any, Any] = {}
        for source in reversed(sources):
            merged.update(source)
        merged.update(own)
        return merged

    def _first_line(self, node: MappingNode, key: Any, depth: int) -> int:
        for key_node, _ in node.value:
            if key_node.tag != _MERGE and self.build(key_node, depth) == key:
                return int(key_node.start_mark.line) + 1
        return int(node.start_mark.line) + 1  # pragma: no cover (the key is there)

    def _error(self, node: Node, problem: str) -> ConfigError:
        return ConfigError(f"{self._source}: {_where(node.start_mark)}: {one_line(problem)}")


def _tag(node: Node) -> str:
    return str(node.tag).replace(_TAG, "!!", 1)

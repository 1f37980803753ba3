"""Typed settings whose fields are bound to the variables they are read from.

A settings dataclass declares each field once, `batch_size: int = bound(v.WAC_STORE_...)`:
its default is the variable's, and `read_bound(SettingsClass, env)` fills every bound
field from `env`, so no service lists its variables a second time to read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field, fields
from typing import TYPE_CHECKING, Any, TypeVar

from wac.settings.environment import load_environment
from wac.settings.variables import Variable

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T")
S = TypeVar("S", bound="DataclassInstance")

_VARIABLE = "wac.variable"


def bound(variable: Variable[T]) -> T:
    """A dataclass field read from `variable`, defaulting to the variable's default."""
    return field(default=variable.default, metadata={_VARIABLE: variable})


def read_bound(cls: type[S], env: Mapping[str, str] | None = None, **given: Any) -> S:
    """`cls` with every bound field read from `env` (default: the environment over
    `.env`) and the other fields from `given`; a bad value is a ConfigError naming the
    variable."""
    merged = load_environment() if env is None else env
    for each in fields(cls):
        variable = each.metadata.get(_VARIABLE)
        if variable is not None:
            given[each.name] = variable.read(merged)
    return cls(**given)

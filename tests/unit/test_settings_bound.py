"""Typed settings bound to their variables (wac.settings.bound): each field declared once,
defaulting to its variable's default and read from it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from wac.config import load_settings
from wac.errors import ConfigError
from wac.settings import variables as v
from wac.settings.bound import bound, read_bound
from wac.store.settings import StoreSettings


@dataclass(frozen=True)
class Example:
    batch_size: int = bound(v.WAC_STORE_BATCH_SIZE)
    topic: str = bound(v.KAFKA_TOPIC)
    label: str = "given"


def test_an_unset_variable_gives_its_default_and_a_set_one_its_value() -> None:
    assert Example() == Example(v.WAC_STORE_BATCH_SIZE.default, v.KAFKA_TOPIC.default)
    assert read_bound(Example, {}) == Example()
    read = read_bound(Example, {"WAC_STORE_BATCH_SIZE": "7", "KAFKA_TOPIC": "t"}, label="x")
    assert read == Example(batch_size=7, topic="t", label="x")


def test_a_bad_value_is_a_config_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="WAC_STORE_BATCH_SIZE"):
        read_bound(Example, {"WAC_STORE_BATCH_SIZE": "many"})


def test_the_services_settings_read_every_bound_field() -> None:
    store = StoreSettings.from_env({"WAC_STORE_STATS_INTERVAL": "0", "WAC_STORE_BATCH_SIZE": "9"})
    assert (store.stats_interval_s, store.batch_size) == (0.0, 9)
    shared = load_settings({"KAFKA_TOPIC": "mine", "WAC_MONITOR_NAME": "here"})
    assert (shared.kafka_topic, shared.monitor_name) == ("mine", "here")
    assert load_settings({}).monitor_name  # the host name when WAC_MONITOR_NAME is unset

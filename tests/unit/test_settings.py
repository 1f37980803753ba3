"""The settings layer: every variable defined once, parsed one way, from one merge of the
environment over `.env`; the options that mirror a variable built from its definition."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st

from wac.cli import cli
from wac.config import load_settings
from wac.errors import ConfigError
from wac.localservices.paths import Settings as ServiceSettings
from wac.localservices.paths import default_home
from wac.settings import variables
from wac.settings.environment import load_environment
from wac.settings.options import help_text
from wac.settings.variables import BY_NAME, VARIABLES, Variable

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"^(?:WAC|KAFKA|POSTGRES|CHECK)_[A-Z0-9_]+$")
# Names in the code that are not settings wac reads: printed for other tools, constants,
# examples in docstrings.
NOT_SETTINGS = {
    "KAFKA_PLAINTEXT_ENDPOINT": "printed by `wac services env` for tools without SSL",
    "CHECK_COLUMNS": "a tuple of column names",
    "CHECK_TYPES": "a tuple of column types",
    "WAC_WEBHOOK_SECRET": "an example name in a docstring",
    "WAC_STORE_": "the store's prefix, in a docstring",
}
# Modules that read the process environment, and why: the one merge, and programs of the
# system that are not wac settings (apt's environment, JAVA_HOME).
READS_OS_ENVIRON = {"wac/settings/environment.py", "wac/localservices/system.py"}


def test_every_variable_the_code_names_is_defined_once() -> None:
    assert len(BY_NAME) == len(VARIABLES)
    named: set[str] = set()
    for path in (ROOT / "wac").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                named |= {word for word in re.findall(r"\b[A-Z][A-Z0-9_]+\b", node.value)}
    settings_named = {name for name in named if NAME.match(name)} - set(NOT_SETTINGS)
    assert settings_named - set(BY_NAME) == set()
    assert set(BY_NAME) - settings_named == set()  # every definition is read somewhere


def test_only_the_settings_layer_reads_the_process_environment() -> None:
    readers = set()
    for path in (ROOT / "wac").rglob("*.py"):
        text = path.read_text()
        if "os.environ" in text or "getenv" in text:
            readers.add(str(path.relative_to(ROOT)))
    assert readers == READS_OS_ENVIRON


def test_unset_or_blank_is_the_default() -> None:
    for variable in VARIABLES:
        assert variable.read({}) == variable.default, variable.name
        if variable.blank_is_unset:
            assert variable.read({variable.name: "  "}) == variable.default, variable.name
        else:
            with pytest.raises(ConfigError, match=f"^{variable.name} is set but empty"):
                variable.read({variable.name: "  "})


@settings(max_examples=20, deadline=None)
@given(text=st.text(max_size=40))
@example(text="~0")  # a home folder of no known user: once a RuntimeError
def test_any_text_is_a_value_or_one_line_naming_the_variable(text: str) -> None:
    for variable in VARIABLES:
        try:
            variable.read({variable.name: text})
        except ConfigError as exc:
            message = str(exc)
            assert message.startswith(variable.name) and "\n" not in message, message
            if variable.name.endswith("_TOKEN") and len(text.strip()) >= 6:
                assert text not in message, message  # a secret is never shown


@settings(max_examples=60, deadline=None)
@given(number=st.integers(min_value=-(10**6), max_value=10**6))
def test_whole_numbers_and_ports_within_their_bounds(number: int) -> None:
    bounded: list[tuple[Variable[Any], int, int | None]] = [
        (variables.WAC_WEB_PORT, 1, 65535),
        (variables.WAC_ALERT_METRICS_PORT, 1, 65535),
        (variables.WAC_KAFKA_PORT, 1, 65533),
        (variables.KAFKA_PARTITIONS, 1, 10_000),
        (variables.WAC_STORE_RETENTION_DAYS, 0, None),
        (variables.WAC_MONITOR_BUFFER, 1, None),
    ]
    for variable, low, high in bounded:
        inside = number >= low and (high is None or number <= high)
        if inside:
            assert variable.read({variable.name: f" {number} "}) == number
        else:
            with pytest.raises(ConfigError, match=f"^{variable.name}="):
                variable.read({variable.name: str(number)})


def test_booleans_and_their_spellings() -> None:
    for text, value in [
        ("false", False),
        ("No", False),
        ("0", False),
        ("TRUE", True),
        ("on", True),
    ]:
        assert variables.KAFKA_USE_SSL.read({"KAFKA_USE_SSL": text}) is value
    with pytest.raises(ConfigError, match=r"^KAFKA_USE_SSL='maybe' is not a boolean"):
        variables.KAFKA_USE_SSL.read({"KAFKA_USE_SSL": "maybe"})


def test_an_option_is_parsed_as_its_variable_and_named_in_the_error() -> None:
    env = {"WAC_WEB_PORT": "9000"}
    assert variables.WAC_WEB_PORT.pick(None, "--port", env) == 9000
    assert variables.WAC_WEB_PORT.pick("9001", "--port", env) == 9001
    with pytest.raises(ConfigError, match=r"^--port='0' is not a TCP port"):
        variables.WAC_WEB_PORT.pick("0", "--port", env)
    with pytest.raises(ConfigError, match=r"^WAC_WEB_PORT='0' is not a TCP port"):
        variables.WAC_WEB_PORT.pick(None, "--port", {"WAC_WEB_PORT": "0"})


def _option(command_path: str, flag: str) -> click.Option:
    command: click.Command = cli
    for word in command_path.split()[1:]:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), word)
        assert found is not None, command_path
        command = found
    for param in command.params:
        if isinstance(param, click.Option) and flag in param.opts:
            return param
    raise AssertionError(f"{command_path} has no {flag}")


def test_options_that_mirror_a_variable_take_its_help_and_default() -> None:
    mirrored = [(v, o) for v in VARIABLES for o in v.options]
    assert len(mirrored) >= 9
    for variable, written in mirrored:
        command_path, flag = written.rsplit(" ", 1)
        param = _option(command_path, flag)
        assert param.default is None, written  # the variable's default applies
        assert param.help is not None and param.help.startswith(
            help_text(variable).split(" Default:")[0].rstrip(".")
        ), written
        assert f"Default: {variable.shown_default.strip('`')} (or {variable.name})." in (
            param.help or ""
        ), written


def test_period_has_help_wherever_it_is_taken() -> None:
    for command in ("wac up", "wac monitor"):
        param = _option(command, "--period")
        assert param.help and "500ms" in param.help and "Default: 10 s" in param.help


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / ".env").write_text(
        "KAFKA_TOPIC=from-file\nKAFKA_CLIENT_ID=file-client\nWAC_KAFKA_PORT=29092\n"
        "WAC_POSTGRES_PORT=25432\nWAC_HOME=./elsewhere\nWAC_KAFKA_HEAP=256m\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KAFKA_CLIENT_ID", "shell-client")
    for name in (
        "KAFKA_TOPIC",
        "WAC_KAFKA_PORT",
        "WAC_POSTGRES_PORT",
        "WAC_HOME",
        "WAC_KAFKA_HEAP",
    ):
        monkeypatch.delenv(name, raising=False)
    env = load_environment()
    assert env["KAFKA_TOPIC"] == "from-file" and env["KAFKA_CLIENT_ID"] == "shell-client"
    shared = load_settings()
    assert shared.kafka_topic == "from-file" and shared.kafka_client_id == "shell-client"
    local = ServiceSettings.from_env()  # the local services read the same merge
    assert (local.kafka_port, local.postgres_port, local.topic) == (29092, 25432, "from-file")
    assert local.kafka_heap == "256m"
    assert default_home() == (tmp_path / "elsewhere").resolve()


def test_the_local_services_live_in_the_current_folder_by_default(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WAC_HOME", raising=False)
    assert default_home() == tmp_path.resolve() / ".wac"
    import wac

    assert not str(default_home()).startswith(str(Path(wac.__file__).parent))


def test_a_dotenv_that_cannot_be_read_is_one_line(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / ".env").write_bytes(b"KAFKA_TOPIC=\xff\xfe\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"^\.env is not UTF-8 text"):
        load_environment()
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 2 and "wac: error: .env is not UTF-8 text" in result.output


def test_a_bad_log_level_is_one_line(monkeypatch) -> None:
    monkeypatch.setenv("WAC_LOG_LEVEL", "LOUD")
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "wac: error: WAC_LOG_LEVEL='LOUD' is not a log level: use DEBUG, INFO, WARNING, ERROR"
    )

"""Values that used to pass validation and then made every check throw: refused at load.

Each is one line naming the target and the field, and saying the bound or the fix.
"""

from __future__ import annotations

import time

import pytest

from wac import limits
from wac.commands.common import collect_targets
from wac.config import load_settings, parse_timeout
from wac.errors import ConfigError
from wac.probes.http import HttpCheck
from wac.targets import parse_targets_document, target_from_url
from wac.yaml_config import parse_yaml


def parse(text: str):
    return parse_targets_document(parse_yaml(text, "t.yaml"), source="t.yaml", default_timeout=1.0)


def refused(entry: str, *fragments: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse("targets:\n  - name: shop\n" + entry)
    message = str(info.value)
    assert "\n" not in message and "t.yaml: target 'shop'" in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


@pytest.mark.parametrize(
    ("entry", "fragments"),
    [
        ("    timeout: .inf", ["timeout inf is too long: at most 1h"]),
        ("    timeout: 1e300", ["timeout '1e300' is not a duration"]),  # YAML 1.1: text
        ("    timeout: !!float 1e300", ["timeout 1e+300 is too long: at most 1h"]),
        ("    timeout: " + "9" * 400, ["timeout", "is too long: at most 1h"]),
        ("    timeout: '" + "9" * 400 + "s'", ["timeout", "is too long"]),
        ("    timeout: 2h", ["timeout '2h' is too long: at most 1h"]),
        ("    timeout: 0.0001", ["timeout must be between 1ms and 1h"]),
        ("    timeout: .nan", ["timeout must be positive"]),
        ("    interval: 25h", ["interval '25h' is too long: at most 24h"]),
        ("    interval: 10ms", ["interval must be between 100ms and 24h"]),
        ("    max_redirects: 31", ["max_redirects must be a whole number from 0 to 30"]),
        ("    max_redirects: " + "1" * 30, ["max_redirects", "from 0 to 30"]),
        ("    max_body_size: 2GiB", ["max_body_size '2GiB' is too large: at most"]),
        ("    max_body_size: '" + "9" * 5000 + "'", ["max_body_size", "is too large"]),
    ],
)
def test_numbers_out_of_bounds(entry: str, fragments: list[str]) -> None:
    refused("    url: https://shop.example/\n" + entry, *fragments)


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ('"https://shop.example/\\0"', "contains the control character '\\x00'; remove it"),
        ('"https://shop.example/\\e[0m"', "contains the control character '\\x1b'"),
        ('"https://shop.example/\\x7f"', "control character '\\x7f'"),
        ("https://bücher.example/", "non-ASCII character 'ü': write the host name in its xn--"),
        ('"https://shop.example/a\\tb"', "contains white space; percent-encode it"),
        ("https://shop.example/" + "a" * 9000, "url is 9021 characters long; at most 8192"),
        ("https://user:pw@[::1/", "is not a valid URL"),
    ],
)
def test_urls_libcurl_cannot_take(url: str, fragment: str) -> None:
    message = refused(f"    url: {url}", fragment)
    assert "pw" not in message


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ("{X-Tést: 1}", "'X-Tést' is not a valid header name (ASCII letters"),
        ('{"Bad Name": 1}', "is not a valid header name"),
        ('{X-A: "caf\\u00e9"}', "X-A value contains the non-ASCII character 'é'"),
        ('{X-A: "a\\0b"}', "X-A value contains the control character '\\x00'; remove it"),
        ('{X-A: "a\\eb"}', "control character '\\x1b'"),
        ('{X-A: "a\\r\\nInjected: yes"}', "X-A value must be on one line"),
        ("{X-A: " + "v" * 9000 + "}", "X-A value is 9000 characters long; at most 8192"),
    ],
)
def test_headers_libcurl_cannot_send(headers: str, fragment: str) -> None:
    refused(f"    url: https://shop.example/\n    headers: {headers}", fragment)


def test_names_that_cannot_be_shown_or_stored() -> None:
    for name, fragment in [
        ('"a\\0b"', "name contains the character '\\x00'"),
        ('"\\u202eevil"', "name contains the character '\\u202e'"),
        ('"a\\nb"', "name contains the character '\\n'"),
        ("a" * 2000, "name is 2000 characters long; at most 1024"),
    ]:
        with pytest.raises(ConfigError, match=r"^t\.yaml: target ") as info:
            parse(f"targets:\n  - url: https://a/\n    name: {name}\n")
        assert fragment in str(info.value), str(info.value)
    assert (
        parse("targets:\n  - {url: https://a/, name: caf\u00e9 \u2615}")[0].id == "caf\u00e9 \u2615"
    )


def test_target_ids_the_store_could_not_keep_are_refused_at_load() -> None:
    """A name of 1,000 four-byte characters, or a long URL as the id: every result would be
    a dead letter in the store, so the target is refused where it is written."""
    emoji = "\U0001f600" * 300  # 300 characters, 1,200 bytes
    with pytest.raises(ConfigError) as info:
        parse(f"targets:\n  - url: https://a/\n    name: {emoji}\n")
    assert "target id is 1200 bytes long (UTF-8), over the limit of 1024" in str(info.value)
    long_url = "https://a/" + "p" * 1100
    with pytest.raises(ConfigError, match="give the target a shorter `name:`"):
        parse(f"targets:\n  - url: {long_url}\n")
    with pytest.raises(ConfigError, match="over the limit of 1024"):
        target_from_url(long_url, interval=10.0, timeout=1.0)
    assert parse(f"targets:\n  - url: {long_url}\n    name: short\n")[0].id == "short"
    assert len(parse("targets:\n  - url: https://a/\n    name: " + "\u00e9" * 512)[0].id) == 512


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        (r"'(\w)\1'", "is not a valid regex for RE2: invalid escape sequence: \\1"),
        ("'(?=ok)'", "invalid perl operator: (?="),
        ("'(?<!a)b'", "invalid perl operator: (?<"),
        ("'a++'", "bad repetition operator: ++"),
        ("'\\pL{300}'", "pattern too large"),
        ("'" + "x" * 2000 + "'", "pattern is 2000 characters long; at most 1024"),
    ],
)
def test_patterns_re2_cannot_compile(pattern: str, fragment: str) -> None:
    refused(f"    url: https://shop.example/\n    pattern: {pattern}", "pattern", fragment)


def test_catastrophic_pattern_is_accepted_and_matches_in_linear_time() -> None:
    (target,) = parse("targets:\n  - {url: https://a/, name: x, pattern: '(a+)+$'}")
    assert target.compiled_pattern is not None
    started = time.perf_counter()
    assert not target.compiled_pattern.found(b"a" * 40 + b"!")
    assert not target.compiled_pattern.found(b"a" * 5_000_000 + b"!")
    assert target.compiled_pattern.found(b"xaaa")
    assert time.perf_counter() - started < 1.0


def test_defaults_are_checked_once_and_named() -> None:
    with pytest.raises(ConfigError, match=r"^t.yaml: defaults: timeout .* at most 1h$"):
        parse("defaults: {timeout: 2h}\ntargets:\n  - url: https://a/\n")
    (target,) = parse("defaults: {timeout: 2s, headers: {A: b}}\ntargets:\n  - url: https://a/\n")
    assert target.timeout == 2.0 and target.headers == (("A", "b"),)


def test_bounds_are_inclusive_and_every_accepted_target_configures_libcurl() -> None:
    (target,) = parse(
        "targets:\n  - url: https://a/\n    timeout: 1h\n    interval: 24h\n"
        "    max_redirects: 30\n    max_body_size: 1GiB\n"
        '    headers: {X-Tab: "a\\tb", Accept: text/html}\n'
    )
    assert target.timeout == limits.MAX_TIMEOUT_S and target.interval == limits.MAX_INTERVAL_S
    assert target.max_redirects == 30 and target.max_body_bytes == limits.MAX_BODY_BYTES
    HttpCheck(target, "m").close()


def test_command_line_and_environment_bounds() -> None:
    for value in ("inf", "1e300", "nan", "0", "3601"):
        with pytest.raises(ConfigError, match="CHECK_TIMEOUT"):
            parse_timeout(value)
    assert parse_timeout("3600") == 3600.0
    for timeout in (float("inf"), 1e300, 0.0):
        with pytest.raises(ConfigError, match=r"URL 'https://a/': timeout must be between"):
            target_from_url("https://a/", interval=10, timeout=timeout)
    with pytest.raises(ConfigError, match="interval must be between 100ms and 24h"):
        target_from_url("https://a/", interval=1e-300, timeout=1)


def test_hundred_thousand_targets_load_in_linear_time(tmp_path) -> None:
    """The duplicate check used to be quadratic (`ids.count`): minutes for 100,000."""
    config = tmp_path / "targets.yaml"
    lines = ["defaults:\n  interval: 30s\n  timeout: 2s\ntargets:\n"]
    lines += [
        f"  - url: https://site{i}.example.com/\n    name: site-{i}\n" for i in range(100_000)
    ]
    config.write_text("".join(lines))
    settings = load_settings({"CHECK_TIMEOUT": "1"})
    started = time.process_time()
    targets = collect_targets([], config, None, settings)
    spent = time.process_time() - started
    print(f"100,000 targets loaded and validated in {spent:.2f} s of CPU")
    assert len(targets) == 100_000 and targets[-1].id == "site-99999"
    assert spent < 10.0  # about 1.5 s here; quadratic would be minutes

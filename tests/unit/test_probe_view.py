"""The target page's view of a probe: the phases shown per probe (as the result schema
states them), and stored `details` read back field by field within the contract."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from wac.result import MAX_ANSWER_CHARS, PROBE_PHASES, PROBES, CheckResult, Details
from wac.web.probe_view import ALL_PHASES, DETAIL_FIELDS, clean_details, phases_shown


def test_each_probes_phases_are_those_the_result_schema_states() -> None:
    description = msgspec.json.schema(CheckResult)["$defs"]["CheckResult"]["properties"]["probe"]
    text = re.sub(r"\([^)]*\)", "", description["anyOf"][0]["description"])
    stated = text.split("Phases each one fills: ", 1)[1].split(". ", 1)[0]
    per_probe = dict(part.split(": ", 1) for part in stated.split("; "))
    assert set(PROBE_PHASES) == set(PROBES)
    for probe in PROBES:
        words = re.findall(r"\b(?:" + "|".join(ALL_PHASES) + r")\b", per_probe.get(probe, ""))
        assert tuple(words) == PROBE_PHASES[probe], probe


def test_phases_shown_per_probe() -> None:
    assert phases_shown("dns", set()) == ["resolve"]
    assert phases_shown("icmp", {"connect"}) == ["resolve"]  # never a phase it does not fill
    assert phases_shown("tls", set()) == ["resolve", "connect", "tls"]
    assert phases_shown("push", set()) == []
    # http: tls only once a check had it (https); tcp: tls and the reply's phases likewise.
    assert phases_shown("http", set()) == ["resolve", "connect", "processing", "transfer"]
    assert phases_shown("http", {"tls"}) == list(ALL_PHASES)
    assert phases_shown("tcp", {"resolve", "connect"}) == ["resolve", "connect"]
    assert phases_shown("tcp", {"processing"}) == ["resolve", "connect", "processing"]
    # A probe of a later version: every phase, none hidden.
    assert phases_shown("grpc", set()) == list(ALL_PHASES)


def test_details_kept_field_by_field() -> None:
    raw = json.dumps(
        {
            "dns_rcode": "NXDOMAIN",
            "dns_answers": ["a", 1],  # one bad element: the field goes, not the others
            "icmp_sent": 3,
            "icmp_loss_pct": 101,
            "tls_verified": "true",
            "address": "x" * 65,
            "unknown": {"nested": [1, 2]},
        }
    )
    assert clean_details(raw) == {"dns_rcode": "NXDOMAIN", "icmp_sent": 3}
    assert clean_details(None) is None
    assert clean_details("[1]") is None and clean_details('"text"') is None
    assert clean_details("{}") is None and clean_details('{"dns_rcode": null}') is None
    assert clean_details("not json") is None
    assert clean_details('{"icmp_rtt_avg_ms": 1e400}') is None  # no float holds it
    assert clean_details('{"dns_rcode": "NOERROR", "x": ' + "[" * 40 + "]" * 40 + "}") is None
    assert clean_details('{"dns_rcode": "' + "x" * 300_000 + '"}') is None


_valid_fields = st.fixed_dictionaries(
    {},
    optional={
        "address": st.text(max_size=64),
        "dns_rcode": st.sampled_from(["NOERROR", "NXDOMAIN", "SERVFAIL"]),
        "dns_answers": st.lists(st.text(max_size=MAX_ANSWER_CHARS), max_size=64),
        "dns_tcp": st.booleans(),
        "tls_version": st.sampled_from(["TLSv1.2", "TLSv1.3"]),
        "tls_verified": st.booleans(),
        "icmp_sent": st.integers(0, 10_000),
        "icmp_loss_pct": st.floats(0, 100),
        "icmp_rtt_avg_ms": st.floats(0, 86_400_000.0),
        "tcp_reply": st.text(max_size=1024),
    },
)


@settings(max_examples=200, deadline=None)
@given(_valid_fields)
def test_details_the_store_writes_read_back_whole(fields: dict[str, Any]) -> None:
    raw = msgspec.json.encode(Details(**fields)).decode()
    assert clean_details(raw) == (fields or None)


_json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(10**40), 10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
_json = st.recursive(
    _json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(DETAIL_FIELDS) | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(DETAIL_FIELDS), _json, max_size=8) | _json)
def test_any_stored_json_reads_as_fields_the_contract_accepts(value: Any) -> None:
    kept = clean_details(json.dumps(value))
    if kept is None:
        return
    assert set(kept) <= set(DETAIL_FIELDS) and kept
    for name, field in kept.items():
        assert field == value[name]
        msgspec.convert({name: field}, Details)  # within the contract
    json.dumps(kept, allow_nan=False)  # a browser can parse it

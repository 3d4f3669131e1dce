"""The fuzz tier: arbitrary bytes into the importer, the MQTT payload decoders and the
case-number parser; nothing but each one's documented error escapes.

Brief in `make test`; longer by hand:

    STREAMD_FUZZ_EXAMPLES=20000 .venv/bin/pytest tests/test_fuzz.py -q
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from streamd.casenumber import CaseNumberError, parse_case_number
from streamd.import_read import HEADERS
from streamd.importer import ImportFailed, parse_file
from streamd_protocol import (
    VERSION,
    Ack,
    AgentState,
    Event,
    ProtocolError,
    Telemetry,
    parse_command,
    parse_transcript,
)
from tests.conftest import hearing_body

EXAMPLES = int(os.environ.get("STREAMD_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 2, tzinfo=UTC)

# Near-valid input finds more than noise: real headers, real values, broken in places.
cells = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["是", "否", "开庭", "（2026）粤0111民初1号", "2026-12-03 09:00", "", "\x00"]),
)
csv_text = st.lists(
    st.lists(cells, min_size=1, max_size=14).map(
        lambda row: ",".join('"' + c.replace('"', '""') + '"' if "," in c else c for c in row)
    ),
    max_size=6,
).map(lambda rows: "\n".join([",".join(HEADERS), *rows]))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=30,
)
near_hearing = st.builds(
    lambda over: {**hearing_body(), **over},
    st.dictionaries(st.sampled_from(list(hearing_body())), json_values, max_size=3),
)


def _parse(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"schedule{suffix}"
        path.write_bytes(data)
        try:
            parse_file(path, zone=ZONE)
        except ImportFailed as exc:
            assert exc.errors and all(str(e) for e in exc.errors)


@FUZZ
@given(st.one_of(st.binary(max_size=400), csv_text.map(lambda t: t.encode("utf-8"))))
def test_the_importer_takes_any_csv_bytes(data: bytes) -> None:
    _parse(data, ".csv")


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=400),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.lists(near_hearing, max_size=3).map(
            lambda v: json.dumps(v, ensure_ascii=False).encode()
        ),
        st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n),
    )
)
def test_the_importer_takes_any_json_bytes(data: bytes) -> None:
    _parse(data, ".json")


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries(
            {"v": st.just(VERSION), "sig": st.text(max_size=8)},
            optional={"id": json_values, "kind": st.text(max_size=10)},
        ).map(lambda v: json.dumps(v, ensure_ascii=False).encode()),
        st.integers(1, 5000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    )
)
def test_commands_fail_only_as_protocol_errors(data: bytes) -> None:
    for secret in (None, "court-secret"):
        with contextlib.suppress(ProtocolError):
            parse_command(data, now=NOW, secret=secret)


@FUZZ
@given(
    st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode())),
    st.sampled_from([Ack, AgentState, Event, Telemetry]),
)
def test_agent_payloads_fail_only_as_validation_errors(data: bytes, model: type[BaseModel]) -> None:
    with contextlib.suppress(ValidationError):
        model.model_validate_json(data)
    with contextlib.suppress(ProtocolError):
        parse_transcript(data)


@FUZZ
@given(
    st.one_of(
        st.text(max_size=40),
        st.from_regex(r"[（(]\d{0,5}[)）][^\d]{0,4}\d{0,6}[^\d]{0,3}\d{0,8}号?", fullmatch=True),
    )
)
def test_case_numbers_fail_only_as_case_number_errors(text: str) -> None:
    try:
        parsed = parse_case_number(text)
    except CaseNumberError as exc:
        assert str(exc)
    else:
        assert parse_case_number(parsed.canonical) == parsed  # canonical form is stable

"""One vocabulary: the case number, the China clock, dead-letter headers and the test identities."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from shared import roles
from shared.config import ServiceSettings
from shared.contracts.ids import CASE_ID_PATTERN, CaseId, is_case_id, new_case_id
from shared.contracts.registry import load_registry
from shared.http.auth import load_credentials
from shared.kafka.dead_letters import (
    CAUSE_HEADERS,
    DEAD_LETTER_HEADERS,
    dead_letter_headers,
    without_dead_letter_headers,
)
from shared.periods import china_date, china_today
from shared.roles import CASE_READERS, CHANNEL_ROLES, STAFF_ROLES
from shared.testing.identities import api_key, api_keys, key_headers, principal_id


def test_case_numbers_are_what_intake_issues_and_nothing_else() -> None:
    case_id = TypeAdapter(CaseId)
    assert all(is_case_id(case_id.validate_python(new_case_id())) for _ in range(500))
    for ambiguous in (
        "YD-7K3M9QX2AI",
        "YD-7K3M9QX2AL",
        "YD-7K3M9QX2AO",
        "YD-7K3M9QX2AU",
        "yd-7k3m9qx2ab",
        "YD-7K3M9QX2A",
        "YD-7K3M9QX2ABC",
        "XX-7K3M9QX2AB",
    ):
        with pytest.raises(ValidationError):
            case_id.validate_python(ambiguous)


def test_every_event_carrying_a_case_number_checks_its_shape() -> None:
    for topic in load_registry().topics:
        for event in topic.events:
            schema = event.payload_model.model_json_schema()
            field = schema["properties"].get("case_id")
            if field is None:
                continue
            shapes = field.get("anyOf", [field])
            assert any(s.get("pattern") == CASE_ID_PATTERN for s in shapes), (event.type, field)


def test_the_day_in_china_is_one_clock() -> None:
    evening_utc = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 01:00 on 1 December in China
    assert china_date(evening_utc).isoformat() == "2026-12-01"
    assert china_today(evening_utc) == china_date(evening_utc)
    assert china_today() in (datetime.now(UTC).date(), china_date(datetime.now(UTC)))


def test_dead_letter_headers_are_written_and_stripped_by_one_list() -> None:
    own = [("event_type", b"case.assigned"), ("replayed_from", b"x")]
    written = dead_letter_headers(
        topic="dispatch.cases.v1",
        partition=2,
        offset=17,
        event_id=None,
        exc=ValueError("bad" * 1000),
        service="warranty",
        attempts=3,
        failed_at=datetime(2026, 11, 30, tzinfo=UTC),
    )
    assert [k for k, _ in written] == list(DEAD_LETTER_HEADERS)
    headers = dict(written)
    assert headers["original_topic"] == b"dispatch.cases.v1" and headers["original_offset"] == b"17"
    assert headers["exc_class"] == b"ValueError" and len(headers["exc_msg"]) == 2000
    assert without_dead_letter_headers(own + written) == own
    assert set(CAUSE_HEADERS) < set(DEAD_LETTER_HEADERS)


def test_role_groups_name_only_known_roles() -> None:
    known = set(STAFF_ROLES) | set(CHANNEL_ROLES)
    groups = {
        name: value for name, value in vars(roles).items() if name.isupper() and isinstance(value, tuple)
    }
    assert len(groups) > 10
    for name, group in groups.items():
        assert set(group) <= known and len(set(group)) == len(group), name
    assert set(CASE_READERS) == known


def test_test_keys_are_the_keys_the_services_load(dev_credentials_file) -> None:
    credentials = load_credentials(ServiceSettings(service_name="x", credentials_file=dev_credentials_file))
    assert set(api_keys()) == set(STAFF_ROLES) | set(CHANNEL_ROLES)
    for role, key in api_keys().items():
        principal = credentials.lookup(key)
        assert principal is not None and principal.role == role and principal.id == principal_id(role)
        assert key_headers()[role] == {"X-API-Key": api_key(role)}

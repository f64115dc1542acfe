"""Every service's API against its own OpenAPI document, as an outside tester would try it: requests
generated from the document (schemathesis), each answered without a server error and in the shape
the document declares. Each service runs over real HTTP on the real broker and store."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from console.config import ConsoleSettings
from console.entrypoints.http import create_app as console_app
from dispatch.config import DispatchSettings
from dispatch.entrypoints.http import create_app as dispatch_app
from engineering.config import EngineeringSettings
from engineering.entrypoints.http import create_app as engineering_app
from intake.config import IntakeSettings
from intake.entrypoints.http import create_app as intake_app
from notifications.config import NotificationsSettings
from notifications.entrypoints.http import create_app as notifications_app
from operations.config import OperationsSettings
from operations.entrypoints.http import create_app as operations_app
from parts.config import PartsSettings
from parts.entrypoints.http import create_app as parts_app
from shared.config import ServiceSettings
from shared.testing.fixtures import Isolation, eventually, serving
from shared.testing.identities import api_key
from warranty.config import WarrantySettings
from warranty.entrypoints.http import create_app as warranty_app

pytestmark = pytest.mark.integration

# Per operation, valid and invalid requests each: enough to reach every parameter's bounds, few
# enough to keep the suite quick (derandomized, so a failure here fails the same way again).
EXAMPLES_PER_OPERATION = 10
CHECKS = [not_a_server_error, response_schema_conformance]

# service -> (settings, app factory, the key it is tried with: the role that reaches deepest)
SERVICES: dict[str, tuple[type[ServiceSettings], Callable[..., Any], str]] = {
    "intake": (IntakeSettings, intake_app, api_key("hotline")),
    "dispatch": (DispatchSettings, dispatch_app, api_key("manager")),
    "warranty": (WarrantySettings, warranty_app, api_key("manager")),
    "parts": (PartsSettings, parts_app, api_key("specialist")),
    "engineering": (EngineeringSettings, engineering_app, api_key("engineering")),
    "operations": (OperationsSettings, operations_app, api_key("operations")),
    "console": (ConsoleSettings, console_app, api_key("manager")),
    "notifications": (NotificationsSettings, notifications_app, api_key("operations")),
}


@pytest.mark.parametrize("service", list(SERVICES))
async def test_every_operation_answers_as_its_openapi_document_says(
    isolation: Isolation, service: str
) -> None:
    settings_cls, create_app, key = SERVICES[service]
    # A generous per-address limit: the generated requests all come from one address.
    app = create_app(isolation.settings(settings_cls, **_overrides(service)))
    async with serving(app) as url:
        await eventually(lambda: _ready(url), timeout_s=60)
        openapi = app.openapi()
        failures = await asyncio.to_thread(_try_every_operation, openapi, url, {"X-API-Key": key})
    assert not failures, "\n\n".join(failures)


def _overrides(service: str) -> dict[str, Any]:
    if service == "intake":
        return {
            "rate_limit_per_ip": "100000/minute",
            "rate_limit_per_key": "100000/minute",
            "rate_limit_online_per_ip": "100000/minute",
        }
    return {}


async def _ready(url: str) -> bool:
    async with httpx.AsyncClient(base_url=url) as client:
        return (await client.get("/readyz")).status_code == 200


def _try_every_operation(openapi: dict[str, Any], base_url: str, headers: dict[str, str]) -> list[str]:
    """Run in a thread: the service answers on the test's event loop meanwhile."""
    schema = schemathesis.openapi.from_dict(openapi)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the document declares no operation"
    for operation, mode in itertools.product(operations, (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)):

        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis.settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def tried(case: Any) -> None:
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)

        try:
            tried()
        except hypothesis.errors.Unsatisfiable:
            continue  # no parameter, so no invalid request to make of it
        except Exception as exc:  # every operation is tried; all failures are reported together
            failures.append(f"{operation.label} ({mode.value} data): {type(exc).__name__}: {exc}"[:3000])
    return failures

"""API keys: channel bindings, staff roles, and placeholders refused in production."""

from __future__ import annotations

import json

import pytest

from shared.config import ServiceSettings
from shared.http.auth import Credentials, CredentialsError, load_credentials
from shared.testing.identities import api_key


def _settings(tmp_path, env: str, data: dict) -> ServiceSettings:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(data))
    return ServiceSettings(service_name="x", app_env=env, credentials_file=path)


def test_dev_file_loads_in_development(dev_credentials_file) -> None:
    creds = load_credentials(ServiceSettings(service_name="x", credentials_file=dev_credentials_file))
    dealer = creds.lookup(api_key("dealer"))
    assert dealer is not None and dealer.role == "dealer" and dealer.dealer_code == "D-GZ-001"
    manager = creds.lookup(api_key("regional_manager"))
    assert manager is not None and manager.manager_id == "RM-SOUTH-01"
    staff = creds.lookup(api_key("finance"))
    assert staff is not None and staff.role == "finance" and staff.is_staff
    assert creds.lookup("nope") is None and creds.lookup(None) is None


def test_dev_keys_are_refused_in_production(dev_credentials_file) -> None:
    with pytest.raises(CredentialsError, match="placeholder"):
        load_credentials(
            ServiceSettings(service_name="x", app_env="production", credentials_file=dev_credentials_file)
        )


def test_production_needs_configured_keys() -> None:
    with pytest.raises(CredentialsError, match="no credentials"):
        load_credentials(ServiceSettings(service_name="x", app_env="production"))


def test_real_keys_load_in_production_and_lists_are_allowed(tmp_path) -> None:
    data = {
        "dealer": [
            {"api_key": "k9Xq2LmZ7pRt4Vw8", "dealer_code": "D-1"},
            {"api_key": "Zp3Nc8Qw1Ls6Tx0Y", "dealer_code": "D-2"},
        ],
        "staff": {"manager": {"api_key": "Mg7Rb2Kc9Ld4Pf1Z", "id": "m1"}},
    }
    creds = load_credentials(_settings(tmp_path, "production", data))
    assert creds.lookup("Zp3Nc8Qw1Ls6Tx0Y").dealer_code == "D-2"


@pytest.mark.parametrize(
    "data",
    [
        {"dealer": {"api_key": "k9Xq2LmZ7pRt4Vw8"}},
        {"staff": {"janitor": {"api_key": "k9Xq2LmZ7pRt4Vw8", "id": "j"}}},
        {"hotline": {"api_key": "short"}},
    ],
)
def test_malformed_credentials_are_refused(data) -> None:
    with pytest.raises(CredentialsError):
        Credentials.parse(data, allow_placeholders=True)

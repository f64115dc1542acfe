"""Base model for event payloads: a tolerant reader within one major schema version."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    """Payload of an event.

    Unknown fields are ignored, so a producer can add optional fields without a new major version;
    a missing or mistyped required field makes the message invalid (and it goes to the dead letters).
    """

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

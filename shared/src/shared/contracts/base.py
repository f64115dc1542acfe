"""Base model for event payloads: a tolerant reader within one major schema version."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    """Payload of an event.

    Unknown fields are ignored, so a producer can add optional fields without a new major version;
    a missing or mistyped required field makes the message invalid (and it goes to the dead letters).
    """

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    # The schema_version of the event this payload is published as (topics.yaml lists each version
    # with its model): a change a consumer of the published version could not read is a new model
    # with the next version, and envelopes made of it carry that version.
    SCHEMA_VERSION: ClassVar[int] = 1

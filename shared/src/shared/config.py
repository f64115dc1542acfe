"""Settings common to every service, read from the environment when a service starts (never at import)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """What every service needs to reach Kafka, the store and its callers.

    Each service subclasses this with its own fields; variables are read without a prefix for the
    shared ones (the local stack sets them once for all services).
    """

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    service_name: str = Field(
        description="Name of the service, used for the consumer group, logs and the DLQ."
    )
    app_env: Literal["development", "test", "production"] = Field(
        default="development",
        description="development accepts the keys of deploy/local/dev-credentials.json; production refuses them.",
    )
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Comma-separated Kafka bootstrap servers."
    )
    kafka_ack_timeout_s: float = Field(
        default=5.0, gt=0, description="How long a publish waits for the broker's acks=all before failing."
    )
    kafka_replication_factor: int = Field(
        default=1, ge=1, description="Replication factor of topics this service creates (3 in production)."
    )
    kafka_session_timeout_s: float = Field(
        default=10.0,
        ge=6,
        description="A consumer silent this long leaves its group; a crashed instance's partitions move on then.",
    )
    topic_prefix: str = Field(
        default="", description="Prefix for every topic name; tests use a unique one to stay isolated."
    )
    mongodb_url: str = Field(default="mongodb://127.0.0.1:27017/", description="MongoDB connection URL.")
    mongodb_database: str = Field(default="", description="Database name; defaults to the service name.")
    mongodb_timeout_s: float = Field(default=5.0, gt=0, description="Server selection / socket timeout.")
    http_host: str = Field(default="127.0.0.1", description="Interface the HTTP API listens on.")
    http_port: int = Field(default=8000, description="Port the HTTP API listens on.")
    log_level: str = Field(default="INFO", description="Log level of the service's own loggers.")
    log_json: bool = Field(default=True, description="JSON log lines (False: human-readable console lines).")
    credentials_file: Path | None = Field(
        default=None,
        description="JSON file of API keys: deploy/local/dev-credentials.json locally, a mounted secret in production.",
    )
    credentials_json: str | None = Field(
        default=None, description="API keys as JSON in one variable (production: from the secret store)."
    )
    forwarded_allow_ips: str = Field(
        default="",
        description="Proxies whose X-Forwarded-For is trusted (comma-separated addresses or networks, or *). "
        "None by default: each deployment names its own proxies.",
    )
    outbox_relay_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="How often the relay publishes events a crash or a Kafka outage left in an outbox "
        "(writers publish at once; this is one indexed query per aggregate collection).",
    )
    kafka_fetch_max_wait_ms: int = Field(
        default=5000,
        ge=1,
        le=10000,
        description="How long the broker holds a consumer's fetch when nothing arrives (it answers at "
        "once when something does): 1000/this fetches a second per idle consumer.",
    )
    consumer_batch_max: int = Field(
        default=200,
        ge=1,
        le=5000,
        description="Most records a consumer takes from Kafka at once (what is waiting, up to this).",
    )
    consumer_linger_ms: int = Field(
        default=40,
        ge=0,
        le=5000,
        description="How long the first of less than a full batch of records waits for more to be "
        "handled with it (a batch pays its store round trips, publish and offset commit once): 0 "
        "handles what is there at once.",
    )
    run_consumers: bool = Field(
        default=True, description="Run this instance's Kafka consumers (False: HTTP only)."
    )

    @property
    def database_name(self) -> str:
        return self.mongodb_database or self.service_name

    def topic(self, name: str) -> str:
        """The physical topic name for a registry topic name."""
        return f"{self.topic_prefix}{name}"

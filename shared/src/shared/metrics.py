"""Prometheus metrics every service exports on /metrics (one process, one registry)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

EVENTS_PRODUCED = Counter(
    "yingde_events_produced_total", "Events published and acknowledged by Kafka.", ["service", "event_type"]
)
EVENTS_CONSUMED = Counter(
    "yingde_events_consumed_total",
    "Events consumed, by outcome (processed, ignored, dead_lettered).",
    ["service", "topic", "event_type", "outcome"],
)
EVENTS_RETRIED = Counter(
    "yingde_event_retries_total",
    "Handler attempts that failed and were retried.",
    ["service", "topic", "error"],
)
COMMITS_FAILED = Counter(
    "yingde_consumer_commits_failed_total",
    "Offset commits given up (timed out or refused by the broker); the next commit covers them.",
    ["service"],
)
CONSUMER_CLIENTS_REPLACED = Counter(
    "yingde_consumer_clients_replaced_total",
    "Group clients replaced after their commits kept failing (a wedged client after a broker restart).",
    ["service"],
)
HANDLER_SECONDS = Histogram(
    "yingde_handler_seconds",
    "Time to handle one consumed event, including retries.",
    ["service", "event_type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
HTTP_SECONDS = Histogram(
    "yingde_http_request_seconds",
    "HTTP request latency by route template.",
    ["service", "method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

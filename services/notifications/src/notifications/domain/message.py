"""A message to the customer: what it says, where it goes, and its delivery from pending to sent or failed.

    pending ──claim──► sending ──provider accepted──► sent        (notification.sent)
       ▲                  │ transient failure: back to pending, later (backoff; SMS never at night)
       └──────────────────┘ last attempt, or refused for good ──► failed (notification.failed, dead-lettered)

A message is claimed before it is handed to a provider (a lease, version-checked in the store), so two
instances never send it at once; an instance that dies while sending leaves it to another once the lease
runs out. Providers get the message id as the idempotency key (Aliyun OutId, WeChat client_msg_id, the
local adapter's record id), so the rare second attempt after a crash is one message for the customer.
Pure: no I/O here.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.contracts.base import Contract
from shared.contracts.notifications import MessageChannel, MessageKind, NotificationFailed, NotificationSent
from shared.periods import CHINA

State = Literal["pending", "sending", "sent", "failed"]
Event = tuple[str, Contract]


class NotDue(Exception):
    """Another instance claimed the message, or it is not due yet: nothing to do here."""


class QuietHours(BaseModel):
    """A window of the China day without SMS (start ≤ end: same day; start > end: across midnight)."""

    start: time | None = None
    end: time | None = None

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        text = text.strip()
        if not text:
            return cls()
        start, _, end = text.partition("-")
        try:
            return cls(start=time.fromisoformat(start.strip()), end=time.fromisoformat(end.strip()))
        except ValueError as exc:
            raise ValueError(f"quiet hours {text!r}: expected HH:MM-HH:MM") from exc

    def holds(self, moment: datetime) -> bool:
        if self.start is None or self.end is None or self.start == self.end:
            return False
        local = moment.astimezone(CHINA).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_allowed(self, moment: datetime) -> datetime:
        """`moment` itself outside the window, else the window's end (China time)."""
        if not self.holds(moment):
            return moment
        assert self.end is not None
        local = moment.astimezone(CHINA)
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end


def backoff(attempts: int, *, first_s: float, max_s: float) -> timedelta:
    """How long after a failed attempt the next one waits: first, doubled each time, capped."""
    return timedelta(seconds=min(first_s * 2 ** max(0, attempts - 1), max_s))


class Message(BaseModel):
    message_id: str
    case_id: str
    kind: MessageKind
    reference: str
    channel: MessageChannel
    to: str = Field(description="E.164 phone (SMS) or the WeChat openid. Personal data: never logged.")
    template: str = Field(
        description="The message kind's template (provider template code resolved when sent)."
    )
    params: dict[str, str] = Field(description="The template's variables.")
    text: str = Field(description="The message as the customer reads it (Chinese).")
    note: str | None = Field(
        default=None, description="Why this channel (a WeChat reply without an openid went by SMS)."
    )
    state: State = "pending"
    attempts: int = 0
    next_attempt_at: datetime | None = None
    lease_until: datetime | None = None
    last_error: str | None = None
    sent_at: datetime | None = None
    failed_at: datetime | None = None
    provider_message_id: str | None = None
    dead_lettered_at: datetime | None = None
    source_topic: str
    source_event: dict[str, Any] = Field(
        description="The event that asked for it, dead-lettered if it fails."
    )
    created_at: datetime
    history: list[dict[str, Any]] = Field(default_factory=list)

    def due_at(self) -> datetime | None:
        """When a sender has something to do with this message (indexed)."""
        if self.state == "pending":
            return self.next_attempt_at
        if self.state == "sending":
            return self.lease_until  # its sender died: another takes it then
        return None

    def claim(self, *, now: datetime, lease_s: float) -> list[Event]:
        due = self.due_at()
        if due is None or due > now:
            raise NotDue(self.message_id)
        self.state, self.lease_until = "sending", now + timedelta(seconds=lease_s)
        self.attempts += 1
        return []

    def mark_sent(self, *, now: datetime, provider_message_id: str | None) -> list[Event]:
        if self.state == "sent":
            return []
        self.state, self.sent_at, self.provider_message_id = "sent", now, provider_message_id
        self.lease_until = self.next_attempt_at = None
        self.history.append({"at": now, "attempt": self.attempts, "result": "sent"})
        return [
            (
                "notification.sent",
                NotificationSent(
                    case_id=self.case_id,
                    message_id=self.message_id,
                    kind=self.kind,
                    reference=self.reference,
                    channel=self.channel,
                    sent_at=now,
                    attempts=self.attempts,
                ),
            )
        ]

    def attempt_failed(
        self,
        *,
        now: datetime,
        error: str,
        permanent: bool,
        max_attempts: int,
        first_s: float,
        max_s: float,
        quiet: QuietHours,
    ) -> list[Event]:
        """Back to pending for a later attempt, or failed for good (the caller dead-letters it)."""
        self.last_error = error
        self.lease_until = None
        self.history.append({"at": now, "attempt": self.attempts, "result": "failed", "error": error})
        if permanent or self.attempts >= max_attempts:
            self.state, self.failed_at, self.next_attempt_at = "failed", now, None
            return [
                (
                    "notification.failed",
                    NotificationFailed(
                        case_id=self.case_id,
                        message_id=self.message_id,
                        kind=self.kind,
                        reference=self.reference,
                        channel=self.channel,
                        reason=error,
                        attempts=self.attempts,
                        failed_at=now,
                    ),
                )
            ]
        self.state = "pending"
        self.next_attempt_at = self.allowed_from(
            now + backoff(self.attempts, first_s=first_s, max_s=max_s), quiet
        )
        return []

    def rearm(self, *, now: datetime, quiet: QuietHours) -> list[Event]:
        """A failed message asked for again (its event replayed from the dead letters): attempts anew."""
        if self.state != "failed":
            return []
        self.state, self.attempts, self.failed_at, self.dead_lettered_at = "pending", 0, None, None
        self.next_attempt_at = self.allowed_from(now, quiet)
        self.history.append({"at": now, "result": "replayed"})
        return []

    def allowed_from(self, moment: datetime, quiet: QuietHours) -> datetime:
        """No SMS at night (China time); WeChat messages go at any hour."""
        return quiet.next_allowed(moment) if self.channel == "sms" else moment

    def dead_lettered(self, *, now: datetime) -> list[Event]:
        self.dead_lettered_at = now
        return []

"""Notifications' handlers: one per consumed event, the delivery of due messages, and the commands.

A consumed event that asks for a message creates it (its id derives from the event, so a redelivery
finds it instead of making a second); the sender then claims each due message, hands it to its
channel's provider and records the answer, all through the unit of work. A message that keeps failing
is failed, told (notification.failed) and its event dead-lettered, where operations sees and replays
it; the replayed event re-arms the message. The customer's phone is never logged.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from notifications.adapters.channels import Channels, DeliveryError
from notifications.adapters.repository import NotificationsRepository
from notifications.domain.compose import Contact, compose
from notifications.domain.message import Message, NotDue, QuietHours
from shared.contracts.complaints import ComplaintReceived
from shared.contracts.envelope import Envelope, InvalidMessage, derived_event_id, encode, utcnow
from shared.kafka.consumer import TransientError
from shared.kafka.dead_letters import dead_letter_headers
from shared.kafka.publisher import EventPublisher, PublishFailed
from shared.logging import get_logger
from shared.unit_of_work import Aggregates, ChangeKey, NotFound

log = get_logger(__name__)


@dataclass
class Notifications:
    """Everything the handlers need, wired by bootstrap."""

    messages: Aggregates[Message]
    repo: NotificationsRepository
    channels: Channels
    publisher: EventPublisher
    dead_letter_topic: str
    quiet: QuietHours
    max_attempts: int
    retry_first_delay_s: float
    retry_max_delay_s: float
    lease_s: float
    unknown_case_grace_s: float
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    # Set when this instance queues a message, so its sender goes at once instead of at its next look
    # (messages queued by another instance, retries and the end of quiet hours wait for that look).
    queued: asyncio.Event = field(default_factory=asyncio.Event)


class DeliveryFailed(Exception):
    """A message its channel would not deliver: the cause its dead letter names."""


def message_id_for(event_id: uuid.UUID, kind: str) -> str:
    """The message an event asks for has one id, whatever instance and however often it is handled."""
    return f"MSG-{derived_event_id(event_id, f'message:{kind}').hex[:16].upper()}"


# ------------------------------------------------------------------------------------------- events


async def on_complaint_received(env: Envelope, complaint: ComplaintReceived, *, n: Notifications) -> None:
    """Keep how to reach the customer of the case (phone; a WeChat openid when the channel gave one)."""
    openid = complaint.original.get("wechat_openid") if isinstance(complaint.original, dict) else None
    await n.repo.save_contact(
        Contact(
            case_id=complaint.case_id,
            phone=complaint.customer.phone,
            name=complaint.customer.name,
            wechat_openid=openid or None,
        )
    )


async def on_customer_event(env: Envelope, payload: Any, *, n: Notifications, topic: str) -> None:
    """A reply, a quote, a remedy or a follow-up request: the message the customer gets, once."""
    contact = await n.repo.contact(env.correlation_id)
    if contact is None:
        age = (n.clock() - env.occurred_at).total_seconds()
        if age < n.unknown_case_grace_s:
            raise TransientError(
                f"case {env.correlation_id}: the complaint (and its contact) not seen yet; waiting"
            )
        raise InvalidMessage(f"case {env.correlation_id}: no contact known {age:.0f}s after {env.event_type}")
    draft = compose(env.event_type, payload, contact)
    if draft is None:
        return
    message_id = message_id_for(env.event_id, draft.kind)
    now = n.clock()
    existing = await n.messages.get(message_id)
    if existing is not None:
        if existing.state == "failed":
            # Its event came back after it failed: replayed from the dead letters. Try again.
            await n.messages.change(message_id, lambda m: m.rearm(now=now, quiet=n.quiet))
            log.info(
                "failed message re-armed by its replayed event",
                message_id=message_id,
                case_id=env.correlation_id,
            )
        return  # a redelivery: the message exists
    message = Message(
        message_id=message_id,
        case_id=env.correlation_id,
        kind=draft.kind,
        reference=draft.reference,
        channel=draft.channel,
        to=draft.to,
        template=draft.kind,
        params=draft.params,
        text=draft.text,
        note=draft.note,
        source_topic=topic,
        source_event=env.model_dump(mode="json"),
        created_at=now,
    )
    message.next_attempt_at = message.allowed_from(now, n.quiet)
    made = await n.messages.create(message, [], cause=env.event_id)
    if made.created:
        n.queued.set()
        log.info(
            "message queued",
            message_id=message_id,
            case_id=message.case_id,
            kind=message.kind,
            channel=message.channel,
            not_before=message.next_attempt_at,
        )


# ------------------------------------------------------------------------------------------- delivery


async def deliver_due(n: Notifications, limit: int = 50) -> int:
    """Send what is due (at least once: claimed, sent, recorded); dead-letter what failed. Returns the
    messages the providers accepted."""
    sent = 0
    for message_id in await n.repo.due(n.clock(), limit=limit):
        sent += await _deliver(n, message_id)
    await dead_letter_failed(n)
    return sent


async def _deliver(n: Notifications, message_id: str) -> int:
    now = n.clock()
    try:
        message = await n.messages.change(message_id, lambda m: m.claim(now=now, lease_s=n.lease_s))
    except (NotDue, NotFound, TransientError):
        return 0  # another instance has it, or it changed meanwhile
    try:
        delivery = await n.channels.of(message.channel).send(message)
    except DeliveryError as exc:
        await _failed_attempt(n, message, str(exc), permanent=exc.permanent)
        return 0
    except Exception as exc:  # a bug or an unexpected answer: retried like a transient failure
        log.exception("provider adapter failed", message_id=message.message_id, channel=message.channel)
        await _failed_attempt(n, message, f"{type(exc).__name__}: {exc}"[:300], permanent=False)
        return 0
    done = n.clock()
    await n.messages.change(
        message_id, lambda m: m.mark_sent(now=done, provider_message_id=delivery.provider_message_id)
    )
    log.info(
        "message sent",
        message_id=message_id,
        case_id=message.case_id,
        kind=message.kind,
        channel=message.channel,
        attempts=message.attempts,
    )
    return 1


async def _failed_attempt(n: Notifications, message: Message, error: str, *, permanent: bool) -> None:
    now = n.clock()
    changed = await n.messages.change(
        message.message_id,
        lambda m: m.attempt_failed(
            now=now,
            error=error,
            permanent=permanent,
            max_attempts=n.max_attempts,
            first_s=n.retry_first_delay_s,
            max_s=n.retry_max_delay_s,
            quiet=n.quiet,
        ),
    )
    log.warning(
        "message not delivered",
        message_id=message.message_id,
        case_id=message.case_id,
        channel=message.channel,
        attempts=changed.attempts,
        error=error,
        state=changed.state,
        retry_at=changed.next_attempt_at,
    )


async def dead_letter_failed(n: Notifications) -> None:
    """The event of each failed message goes to notifications.dead-letters.v1, as a consumer's would:
    operations lists it, and its replay re-arms the message. Retried on the next pass if Kafka is down."""
    for message in await n.repo.waiting_for_dead_letters():
        env = Envelope.model_validate(message.source_event)
        # The headers every consumer's dead letter carries (shared.kafka.dead_letters): operations lists
        # and replays it like any other; no partition or offset of its own (-1).
        headers = dead_letter_headers(
            topic=message.source_topic,
            partition=-1,
            offset=-1,
            event_id=str(env.event_id),
            exc=DeliveryFailed(
                f"{message.kind} {message.message_id} by {message.channel}: {message.last_error}"
            ),
            service="notifications",
            attempts=message.attempts,
            failed_at=message.failed_at or utcnow(),
        )
        try:
            await n.publisher.send(n.dead_letter_topic, message.case_id.encode(), encode(env), headers)
        except PublishFailed:
            return  # the next pass tries again
        await n.messages.change(message.message_id, lambda m, now=n.clock(): m.dead_lettered(now=now))
        log.warning("message dead-lettered", message_id=message.message_id, case_id=message.case_id)


# ------------------------------------------------------------------------------------------- commands


class NotFailed(Exception):
    def __init__(self, message: Message) -> None:
        super().__init__(f"message {message.message_id} is {message.state}; only a failed message is retried")
        self.current = message.state


async def retry_message(n: Notifications, message_id: str, *, key: ChangeKey | None = None) -> Message:
    """Operations: try a failed message again (as a replay of its dead letter would). A retried request
    under the same Idempotency-Key re-arms nothing twice and answers as the first time."""
    now = n.clock()

    def op(m: Message) -> list[Any]:
        if m.state != "failed":
            raise NotFailed(m)
        return m.rearm(now=now, quiet=n.quiet)

    return await n.messages.change(message_id, op, key=key)

"""Wires notifications onto the shared runtime: messages, contacts, the channel adapters the
environment names, the consumed events, and the sender."""

from __future__ import annotations

import asyncio
import contextlib
from functools import partial

import httpx

from notifications.adapters.channels import AliyunSms, ChannelAdapter, Channels, LocalAdapter, WechatTemplate
from notifications.adapters.repository import NotificationsRepository, message_query_fields
from notifications.config import NotificationsSettings
from notifications.domain.message import Message, QuietHours
from notifications.handlers import Notifications, deliver_due, on_complaint_received, on_customer_event
from shared.contracts.registry import load_registry
from shared.logging import get_logger
from shared.service import ServiceRuntime

log = get_logger(__name__)

# The events that tell the customer something, and the topic each comes on.
CUSTOMER_EVENTS = {
    "case.replied": "dispatch.cases.v1",
    "case.follow_up_due": "dispatch.cases.v1",
    "quote.issued": "parts.requests.v1",
    "remedy.chosen": "warranty.remedies.v1",
    "remedy.completed": "warranty.remedies.v1",
}


async def wire(runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    assert isinstance(settings, NotificationsSettings)
    messages = runtime.aggregates(
        "messages",
        Message,
        id_field="message_id",
        kind="message",
        correlation=lambda m: m.case_id,
        query_fields=message_query_fields,
    )
    repo = NotificationsRepository(runtime.db, messages)
    http = httpx.AsyncClient(
        timeout=settings.provider_timeout_s, headers={"User-Agent": "yingde-notifications/0.1"}
    )
    local = LocalAdapter(repo.local_deliveries)
    sms: ChannelAdapter = local
    if settings.sms_provider == "aliyun":
        sms = AliyunSms(
            endpoint=settings.aliyun_sms_endpoint,
            access_key_id=settings.aliyun_sms_access_key_id,
            access_key_secret=settings.aliyun_sms_access_key_secret,
            sign_name=settings.aliyun_sms_sign_name,
            templates=settings.aliyun_sms_templates,
            client=http,
        )
    wechat: ChannelAdapter = local
    if settings.wechat_provider == "wechat":
        wechat = WechatTemplate(
            api_base=settings.wechat_api_base,
            app_id=settings.wechat_app_id,
            app_secret=settings.wechat_app_secret,
            templates=settings.wechat_templates,
            client=http,
        )
    registry = load_registry()
    n = Notifications(
        messages=messages,
        repo=repo,
        channels=Channels(sms=sms, wechat=wechat),
        publisher=runtime.publisher,
        dead_letter_topic=settings.topic(registry.dead_letter_topic(settings.service_name).name),
        quiet=QuietHours.parse(settings.quiet_hours),  # a bad window stops the start-up
        max_attempts=settings.max_attempts,
        retry_first_delay_s=settings.retry_first_delay_s,
        retry_max_delay_s=settings.retry_max_delay_s,
        lease_s=settings.lease_s,
        unknown_case_grace_s=settings.unknown_case_grace_s,
    )
    runtime.components["notifications"] = n
    runtime.components["http"] = http
    log.info("channels", sms=sms.name, wechat=wechat.name, quiet_hours=settings.quiet_hours)
    try:
        await repo.ensure_indexes()
    except Exception as exc:
        log.warning("store not ready at start-up; indexes skipped", error=repr(exc))

    runtime.consumer.handle("complaint.received", partial(on_complaint_received, n=n))
    for event_type, topic in CUSTOMER_EVENTS.items():
        runtime.consumer.handle(event_type, partial(on_customer_event, n=n, topic=topic))

    async def sender() -> None:
        me = asyncio.current_task()
        try:
            while True:
                await deliver_due(n)
                if me is not None and me.cancelling():
                    # Asked to stop while a pass was under way, and something below (a provider's HTTP
                    # call, seen under test) swallowed the cancellation: stop all the same, or the
                    # service's shutdown waits for this loop forever.
                    raise asyncio.CancelledError
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(n.queued.wait(), timeout=settings.delivery_interval_s)
                n.queued.clear()
        finally:
            await http.aclose()

    runtime.background("delivery", sender)

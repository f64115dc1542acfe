"""Events of notifications.messages.v1: what was told to the customer reached them, or could not (R-DS-6).

No phone number and no message text travel here: the case shows the reply it already has, with its
delivery state; the message itself stays in notifications.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from shared.contracts.base import Contract
from shared.contracts.ids import CaseId

MessageKind = Literal["reply", "quote", "remedy_chosen", "remedy_completed", "follow_up_request"]
MessageChannel = Literal["sms", "wechat"]


class NotificationSent(Contract):
    """The provider accepted the message for the customer (SMS or WeChat template message)."""

    case_id: CaseId
    message_id: str
    kind: MessageKind
    reference: str = Field(
        description="What it carried: the reply id, quote id, remedy id or follow-up due day."
    )
    channel: MessageChannel
    sent_at: datetime
    attempts: int = Field(ge=1)


class NotificationFailed(Contract):
    """Every attempt failed (or the provider refused it for good): the message is dead-lettered."""

    case_id: CaseId
    message_id: str
    kind: MessageKind
    reference: str
    channel: MessageChannel
    reason: str = Field(description="The provider's last answer (never the phone number).")
    attempts: int = Field(ge=1)
    failed_at: datetime

"""What the customer is told, composed from the event that asks for it (pure).

Replies go by the channel the specialist chose (SMS, or WeChat when the customer came with an openid;
otherwise SMS, with a note); replies told by phone, on site or through the channel are not sent again.
Quotes, remedies and follow-up requests go by SMS. Each kind has a template with named variables: the
providers' approved templates use the same names (ALIYUN_SMS_TEMPLATES, WECHAT_TEMPLATES).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.contracts.notifications import MessageChannel, MessageKind

SIGN = "【英德售后】"
TEMPLATES: dict[MessageKind, str] = {
    "reply": "您的售后案件 {case_id}：{message}",
    "quote": "您的报价单 {quote_id}（案件 {case_id}）：合计 {total} 元，有效期至 {valid_until}。如需办理请回复或致电 400-832-0089。",
    "remedy_chosen": "您的售后案件 {case_id} 已确定处理方式：{remedy}，我们将尽快为您办理。",
    "remedy_completed": "您的售后案件 {case_id} 的{remedy}已办理完成，感谢您的耐心。",
    "follow_up_request": "您的售后案件 {case_id} 已结案。售后专员将与您联系回访，欢迎为本次服务评分（1-5 分）。",
}
REMEDY_ZH = {
    "free_repair": "免费维修",
    "paid_repair": "付费维修",
    "ota_update": "远程升级",
    "replacement_with_depreciation": "折价换新",
    "exchange": "换货",
    "return": "退货",
    "replacement": "更换配件",
    "consumable_quote": "耗材报价",
    "installation_maintenance": "安装维护",
    "paid_installation_maintenance": "付费安装维护",
    "none": "无需处理",
}
SENT_VIAS = ("sms", "wechat")  # a reply by phone, on site, by email or through the channel was told already


@dataclass(frozen=True)
class Contact:
    case_id: str
    phone: str
    name: str = ""
    wechat_openid: str | None = None


@dataclass(frozen=True)
class Draft:
    kind: MessageKind
    reference: str
    channel: MessageChannel
    to: str
    params: dict[str, str]
    note: str | None = None

    @property
    def text(self) -> str:
        return SIGN + TEMPLATES[self.kind].format(**self.params)


def compose(event_type: str, payload: Any, contact: Contact) -> Draft | None:
    """The message an event asks for, or None when it asks for none."""
    case_id = contact.case_id
    if event_type == "case.replied":
        if payload.via not in SENT_VIAS:
            return None
        channel: MessageChannel = "sms"
        to = contact.phone
        note = None
        if payload.via == "wechat":
            if contact.wechat_openid:
                channel, to = "wechat", contact.wechat_openid
            else:
                note = "客户未绑定微信（无 openid），改以短信发送 / no WeChat openid: sent by SMS"
        return Draft(
            "reply", payload.reply_id, channel, to, {"case_id": case_id, "message": payload.message}, note
        )
    if event_type == "quote.issued":
        return Draft(
            "quote",
            payload.quote_id,
            "sms",
            contact.phone,
            {
                "case_id": case_id,
                "quote_id": payload.quote_id,
                "total": f"{payload.total}",
                "valid_until": payload.valid_until.isoformat(),
            },
        )
    if event_type in ("remedy.chosen", "remedy.completed"):
        kind: MessageKind = "remedy_chosen" if event_type == "remedy.chosen" else "remedy_completed"
        return Draft(
            kind,
            payload.remedy_id,
            "sms",
            contact.phone,
            {"case_id": case_id, "remedy": REMEDY_ZH.get(payload.remedy, payload.remedy)},
        )
    if event_type == "case.follow_up_due":
        return Draft(
            "follow_up_request", payload.due_on.isoformat(), "sms", contact.phone, {"case_id": case_id}
        )
    return None

"""Chinese and English names for the codes the services answer with (statuses, channels, events…).

Presentation only: no rule of any service lives here. An unknown code is shown as it is.
"""

from __future__ import annotations

from typing import Any

Pair = tuple[str, str]

STATUS: dict[str, Pair] = {
    "received": ("已受理", "received"),
    "assigned": ("已分派专员", "assigned"),
    "in_progress": ("处理中", "in progress"),
    "resolved": ("已解决", "resolved"),
    "closed": ("已结案", "closed"),
    "followed_up": ("已回访", "followed up"),
    "reopened": ("已重新打开", "reopened"),
}
CHANNEL: dict[str, Pair] = {
    "hotline": ("400 热线", "hotline"),
    "regional_manager": ("区域经理", "regional manager"),
    "dealer": ("经销商", "dealer"),
    "online": ("在线投诉", "online form"),
}
CATEGORY: dict[str, Pair] = {
    "installation": ("安装问题", "installation"),
    "product_fault": ("产品故障", "product fault"),
    "consumable": ("耗材", "consumable"),
    "software": ("软件", "software"),
}
PRIORITY: dict[str, Pair] = {
    "urgent": ("紧急", "urgent"),
    "high": ("高", "high"),
    "normal": ("普通", "normal"),
    "low": ("低", "low"),
}
DEPARTMENT: dict[str, Pair] = {
    "quality": ("品质部", "quality"),
    "engineering_installation": ("工程安装部", "engineering & installation"),
}
OUTCOME: dict[str, Pair] = {
    "repaired": ("已维修", "repaired"),
    "replaced": ("已换货", "replaced"),
    "returned": ("已退货", "returned"),
    "software_updated": ("软件已升级", "software updated"),
    "consumable_supplied": ("已供应耗材", "consumable supplied"),
    "advice_given": ("已给出建议", "advice given"),
    "no_fault_found": ("未发现故障", "no fault found"),
    "not_covered_declined": ("不在保修范围，客户放弃", "not covered, declined"),
    "other": ("其他", "other"),
}
VIA: dict[str, Pair] = {
    "phone": ("电话", "phone"),
    "sms": ("短信", "SMS"),
    "wechat": ("微信", "WeChat"),
    "email": ("邮件", "e-mail"),
    "on_site": ("上门", "on site"),
    "channel": ("经渠道转达", "through the channel"),
}
DECISION: dict[str, Pair] = {
    "covered": ("保修范围内", "covered"),
    "chargeable": ("收费", "chargeable"),
    "needs_evidence": ("待补充证据", "needs evidence"),
}
REMEDY: dict[str, Pair] = {
    "free_repair": ("免费维修", "free repair"),
    "paid_repair": ("收费维修", "paid repair"),
    "ota_update": ("远程升级", "remote update"),
    "replacement_with_depreciation": ("折旧换新", "replacement with depreciation"),
    "replacement": ("折旧换新", "replacement with depreciation"),
    "exchange": ("换货", "exchange"),
    "return": ("退货", "return"),
    "consumable_quote": ("耗材报价", "consumable quote"),
    "installation_maintenance": ("安装维护", "installation maintenance"),
    "paid_installation_maintenance": ("收费安装维护", "paid installation maintenance"),
    "none": ("无", "none"),
}
REMEDY_STEP: dict[str, Pair] = {
    "goods_received": ("退回的货物已收到", "goods received back"),
    "refunded": ("已按发票价退款", "refunded at the invoice price"),
    "new_unit_issued": ("新机已发出（新序列号）", "new unit issued (new serial)"),
    "old_unit_received": ("旧机已收回", "old unit received back"),
    "quote_issued": ("报价单已出具", "quote issued"),
    "customer_agreed": ("客户已同意报价", "customer agreed to the quote"),
    "shipped": ("已发货", "shipped"),
    "delivered": ("已送达", "delivered"),
    "repaired": ("已维修", "repaired"),
    "done": ("已完成", "done"),
    "updated": ("已远程升级", "updated remotely"),
}
REMEDY_STATUS: dict[str, Pair] = {
    "open": ("进行中", "under way"),
    "completed": ("已完成", "completed"),
    "cancelled": ("已取消", "cancelled"),
}
AGREED_VIA: dict[str, Pair] = {
    "phone": ("电话", "phone"),
    "wechat": ("微信", "WeChat"),
    "sms": ("短信", "SMS"),
    "on_site": ("上门", "on site"),
    "signed_form": ("签字确认单", "signed form"),
}
ATTACHMENT_KIND: dict[str, Pair] = {
    "invoice": ("购机发票", "invoice"),
    "service_card": ("保修卡（盖章）", "service card"),
    "damage": ("损坏照片", "damage"),
    "voltage_reading": ("电压读数", "voltage reading"),
    "signed_form": ("签字单据", "signed form"),
    "other": ("其他", "other"),
}
REGION: dict[str, Pair] = {
    "south_china": ("华南", "South China"),
    "east_china": ("华东", "East China"),
    "north_china": ("华北", "North China"),
    "central_china": ("华中", "Central China"),
    "southwest": ("西南", "Southwest"),
    "northwest": ("西北", "Northwest"),
    "northeast": ("东北", "Northeast"),
}
PARTS_STATE: dict[str, Pair] = {
    "sourcing_locally": ("本地采购中（路径 A）", "sourcing locally (path A)"),
    "sourced_locally": ("本地已采购到件", "sourced locally"),
    "supplier_rma": ("供应商返修，待 RMA 号（路径 B）", "supplier RMA requested (path B)"),
    "rma_confirmed": ("已取得 RMA 号", "RMA confirmed"),
    "good_part_shipped": ("好件已发往现场", "good part shipped"),
    "good_part_received": ("好件已送达现场", "good part received in the field"),
    "repaired": ("已维修", "repaired"),
}
PART: dict[str, Pair] = {
    "motor": ("电机", "motor"),
    "control_board": ("控制板", "control board"),
}
PURCHASE_STATUS: dict[str, Pair] = {
    "open": ("待采购", "open"),
    "ordered": ("已下单", "ordered"),
    "received": ("已到货", "received"),
}
ROLE: dict[str, Pair] = {
    "manager": ("品质售后经理", "quality after-sales manager"),
    "specialist": ("售后专员", "specialist"),
    "finance": ("财务", "finance"),
    "purchasing": ("采购", "purchasing"),
    "engineering": ("工程安装部", "engineering"),
    "management": ("公司高层", "management"),
    "operations": ("运维", "operations"),
    "front_desk": ("前台（400 热线）", "front desk (hotline)"),
    "hotline": ("400 热线坐席", "hotline desk"),
    "dealer": ("经销商", "dealer"),
    "regional_manager": ("区域经理", "regional manager"),
}
EVENT: dict[str, Pair] = {
    "complaint.received": ("受理投诉", "complaint received"),
    "case.assigned": ("分派专员", "assigned"),
    "case.reassigned": ("改派", "reassigned"),
    "case.triaged": ("分类调整", "triaged"),
    "case.replied": ("答复客户", "replied to the customer"),
    "case.resolved": ("已解决", "resolved"),
    "case.closed": ("结案", "closed"),
    "case.escalated": ("超时升级", "escalated"),
    "case.follow_up_due": ("回访到期", "follow-up due"),
    "case.followed_up": ("回访完成", "followed up"),
    "warranty.decided": ("保修判定", "warranty decided"),
    "parts.request_opened": ("配件申请", "key part requested"),
    "parts.local_sourcing_reported": ("本地采购结果", "local sourcing reported"),
    "parts.rma_opened": ("供应商返修", "supplier RMA opened"),
    "parts.shipped": ("配件发货", "part shipped"),
    "parts.repaired": ("现场维修完成", "repaired on site"),
    "quote.issued": ("报价单已出具", "quote issued"),
    "case.reopened": ("重新打开", "reopened"),
    "case.assignment_proposed": ("建议分派，待经理确认", "proposed, waiting for the manager"),
    "case.follow_up_overdue": ("回访逾期，已上报经理", "follow-up overdue"),
    "notification.sent": ("消息已送达客户", "message sent to the customer"),
    "notification.failed": ("消息发送失败", "message failed"),
    "parts.arrived": ("配件到达确认", "part arrival confirmed"),
    "parts.leg_overdue": ("配件环节超时", "parts leg overdue"),
    "purchase.requested": ("缺货，已通知采购", "purchase requested"),
    "installation.case_linked": ("关联工程项目", "linked to an installation project"),
    "installation.maintenance_recorded": ("工程维护", "installation maintenance recorded"),
    "remedy.chosen": ("客户已选择补救方式", "the customer chose a remedy"),
    "remedy.progressed": ("补救措施进展", "remedy step"),
    "remedy.completed": ("补救措施完成", "remedy completed"),
    "remedy.cancelled": ("补救措施取消", "remedy cancelled"),
}
PRODUCER: dict[str, Pair] = {
    "intake": ("受理", "intake"),
    "dispatch": ("分派", "dispatch"),
    "warranty": ("保修", "warranty"),
    "parts": ("配件", "parts"),
    "engineering": ("工程", "engineering"),
}
GATE_STEP: dict[str, Pair] = {
    "self_check": ("我方自检验收", "our self-check"),
    "application": ("提交验收申请", "the application for acceptance"),
    "supervisor_signed": ("监理签字盖章", "the supervisor's signature"),
    "client_signed": ("建设、设计单位签字盖章", "the client's and design unit's signatures"),
}
PRECONDITION: dict[str, Pair] = {
    "scope_complete": ("完成设计和合同约定内容", "scope complete"),
    "self_inspection": ("施工单位完工自检", "self-inspection"),
    "rectifications_closed": ("整改全部完毕", "rectifications closed"),
    "archives_complete": ("技术档案和施工管理资料完整", "archives complete"),
}
PAPERWORK: dict[str, Pair] = {
    "equipment_certificates": ("设备合格证", "equipment certificates"),
    "material_certificates": ("辅料合格证", "material certificates"),
    "crew_ids": ("施工队长及施工人员证件", "crew IDs"),
    "commencement_report": ("《工程开工报审表》", "commencement report"),
}
CONTRACTING_MODE: dict[str, Pair] = {
    "labour_and_materials": ("包工包料", "labour and materials"),
    "labour_only": ("包工不包料（清包）", "labour only"),
    "labour_and_auxiliary_materials": ("包工包辅料", "labour and auxiliary materials"),
}

TARGET: dict[str, Pair] = {
    "assign": ("分派", "assign"),
    "first_reply": ("首次答复", "first reply"),
    "close": ("结案", "close"),
}
TARGET_STATE: dict[str, Pair] = {
    "met": ("按时", "met"),
    "met_late": ("超时完成", "met late"),
    "pending": ("进行中", "pending"),
    "breached": ("已超时", "breached"),
}
CAUSE: dict[str, Pair] = {
    "human_damage": ("人为损坏", "human damage"),
    "force_majeure": ("不可抗力", "force majeure"),
    "unauthorized_repair": ("私自拆修", "unauthorised repair"),
    "voltage_damage": ("电压异常损坏", "voltage damage"),
    "consumable_not_covered": ("耗材不保修", "consumable, not covered"),
    "normal_wear": ("正常磨损", "normal wear"),
    "improper_use": ("使用不当", "improper use"),
    "none": ("无（清除原因）", "none (clear the cause)"),
}
FAULT_KIND: dict[str, Pair] = {
    "hardware": ("硬件", "hardware"),
    "software": ("软件", "software"),
    "consumable": ("耗材", "consumable"),
    "installation": ("安装", "installation"),
}
CONFIRM_VIA: dict[str, Pair] = {
    "phone": ("电话", "phone"),
    "wechat": ("微信", "WeChat"),
    "on_site": ("上门", "on site"),
}
DIRECTION: dict[str, Pair] = {
    "defective_to_company": ("坏件寄回公司", "defective part to the company"),
    "defective_to_supplier": ("坏件寄往供应商", "defective part to the supplier"),
    "good_part_to_field": ("好件寄往现场", "good part to the field"),
}
DELIVERY: dict[str, Pair] = {
    "pending": ("待发送", "waiting to be sent"),
    "sending": ("发送中", "sending"),
    "sent": ("已送达", "sent"),
    "failed": ("发送失败", "failed"),
    "told": ("已当面/电话告知", "told in person or by phone"),
}
REOPEN_TRIGGER: dict[str, Pair] = {
    "low_satisfaction": ("回访不满意", "low satisfaction"),
    "customer_request": ("客户要求", "the customer's request"),
    "manager": ("经理", "the manager"),
}
DIMENSION: dict[str, Pair] = {
    "model": ("型号", "model"),
    "part": ("零部件", "part"),
    "cause": ("判定依据（原因）", "cause"),
    "exclusion": ("不保修情形", "exclusion"),
    "dealer": ("经销商", "dealer"),
    "region": ("区域", "region"),
    "batch": ("生产批次", "production batch"),
}

UNIT_STATUS: dict[str, Pair] = {
    "in_service": ("使用中", "in service"),
    "exchanged": ("已换机", "exchanged"),
    "returned": ("已退货", "returned"),
}
UNIT_EVENT: dict[str, Pair] = {
    "sale_registered": ("经销商登记销售", "sale registered by the dealer"),
    "warranty_activated": ("客户激活保修", "warranty activated by the customer"),
    "installation_accepted": ("工程竣工验收", "installation accepted"),
    "repaired": ("维修", "repaired"),
    "exchanged_out": ("换出（旧机收回）", "exchanged out (old unit back)"),
    "exchanged_in": ("换入（新机，保修重新起算）", "exchanged in (new unit, its own clock)"),
    "returned": ("退货", "returned"),
    "case_reported": ("客户报修", "fault reported"),
    "decided": ("保修判定", "warranty decision"),
    "case_closed": ("结案", "case closed"),
}
CLOCK: dict[str, Pair] = {
    "product": ("整机三包", "the product"),
    "installed_equipment": ("工程设备保修", "installed equipment"),
    "installation_workmanship": ("安装质量保修", "installation workmanship"),
}
CLOCK_BASIS: dict[str, Pair] = {
    "purchase": ("自购买之日", "from the purchase"),
    "acceptance": ("自竣工验收之日", "from the acceptance"),
    "exchange": ("自换机之日", "from the exchange"),
}

TABLES: dict[str, dict[str, Pair]] = {
    "status": STATUS,
    "channel": CHANNEL,
    "category": CATEGORY,
    "priority": PRIORITY,
    "department": DEPARTMENT,
    "outcome": OUTCOME,
    "via": VIA,
    "decision": DECISION,
    "remedy": REMEDY,
    "region": REGION,
    "parts_state": PARTS_STATE,
    "part": PART,
    "purchase_status": PURCHASE_STATUS,
    "role": ROLE,
    "event": EVENT,
    "producer": PRODUCER,
    "step": GATE_STEP,
    "precondition": PRECONDITION,
    "paperwork": PAPERWORK,
    "contracting_mode": CONTRACTING_MODE,
    "target": TARGET,
    "target_state": TARGET_STATE,
    "cause": CAUSE,
    "fault_kind": FAULT_KIND,
    "confirm_via": CONFIRM_VIA,
    "direction": DIRECTION,
    "delivery": DELIVERY,
    "reopen_trigger": REOPEN_TRIGGER,
    "dimension": DIMENSION,
    "remedy_step": REMEDY_STEP,
    "remedy_status": REMEDY_STATUS,
    "agreed_via": AGREED_VIA,
    "attachment_kind": ATTACHMENT_KIND,
    "unit_status": UNIT_STATUS,
    "unit_event": UNIT_EVENT,
    "clock": CLOCK,
    "clock_basis": CLOCK_BASIS,
}


def pair(table: str, code: Any) -> Pair:
    """(zh, en) for a code; an unknown code is its own name in both languages."""
    if code is None:
        return ("—", "—")
    return TABLES[table].get(str(code), (str(code), str(code)))


def live_line(event_type: str, payload: dict[str, Any]) -> Pair:
    """A short line for an event just seen on Kafka, before dispatch's own timeline line replaces it.

    Only a few harmless fields are named (never a price, a phone or an address).
    """
    zh, en = EVENT.get(event_type, (event_type, event_type))
    g = payload.get
    match event_type:
        case "case.assigned":
            return f"{zh}：{g('specialist_id')}", f"{en}: {g('specialist_id')}"
        case "case.reassigned":
            return (
                f"{zh}：{g('from_specialist_id')} → {g('to_specialist_id')}",
                f"{en}: {g('from_specialist_id')} → {g('to_specialist_id')}",
            )
        case "warranty.decided":
            d_zh, d_en = pair("decision", g("decision"))
            r_zh, r_en = pair("remedy", g("remedy"))
            return f"{zh}：{d_zh}，{r_zh}", f"{en}: {d_en}, {r_en}"
        case "case.closed" | "case.resolved":
            o_zh, o_en = pair("outcome", g("outcome"))
            return f"{zh}（{o_zh}）", f"{en} ({o_en})"
        case "parts.request_opened":
            p_zh, p_en = pair("part", g("part"))
            return f"{zh}：{p_zh}", f"{en}: {p_en}"
        case "parts.local_sourcing_reported":
            found = bool(g("found"))
            return (
                f"{zh}：{'已采购到' if found else '未采购到'}",
                f"{en}: {'found' if found else 'not found'}",
            )
        case "remedy.chosen" | "remedy.completed" | "remedy.cancelled":
            r_zh, r_en = pair("remedy", g("remedy"))
            return f"{zh}：{r_zh}", f"{en}: {r_en}"
        case "remedy.progressed":
            s_zh, s_en = pair("remedy_step", g("step"))
            return f"{zh}：{s_zh}", f"{en}: {s_en}"
        case "quote.issued":
            return f"{zh} {g('quote_id') or ''}".strip(), f"{en} {g('quote_id') or ''}".strip()
    return zh, en

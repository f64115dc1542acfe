"""One line per event on a case's timeline, in Chinese with English beside it."""

from __future__ import annotations

from typing import Any

_CHANNEL_ZH = {
    "hotline": "400 热线",
    "regional_manager": "区域经理",
    "dealer": "经销商",
    "online": "在线投诉",
}
_TARGET_ZH = {"assign": "分派", "first_reply": "首次答复", "close": "结案"}


def summary_of(event_type: str, p: Any) -> str:
    """A short bilingual line for the timeline; unknown types fall back to the type name."""

    def g(name: str, default: Any = None) -> Any:
        return getattr(p, name, default)

    match event_type:
        case "complaint.received":
            return f"受理投诉（{_CHANNEL_ZH.get(g('channel'), g('channel'))}） / complaint received via {g('channel')}"
        case "case.assigned":
            return f"分派给 {g('specialist_id')}（{g('reason')}） / assigned to {g('specialist_id')}"
        case "case.reassigned":
            return f"改派 {g('from_specialist_id')} → {g('to_specialist_id')}：{g('reason')} / reassigned"
        case "case.triaged":
            return f"分类调整为 {g('category')}，优先级 {g('priority')}：{g('reason')} / triaged"
        case "case.replied":
            return f"答复客户（{g('via')}）：{g('message')} / replied to the customer"
        case "case.resolved":
            return f"已解决（{g('outcome')}）：{g('resolution')} / resolved"
        case "case.closed":
            if g("override_reason"):
                return (
                    f"经理结案（仍有未完成事项：{'；'.join(g('open_items') or [])}），理由：{g('override_reason')}"
                    f" / closed by the manager with items open"
                )
            return f"结案（{g('outcome')}），回访日 {g('follow_up_due_on')} / closed"
        case "case.escalated":
            target = g("target")
            return f"超时升级：{_TARGET_ZH.get(target, target)}目标已超期 / escalated: {target} target missed"
        case "case.follow_up_due":
            return f"回访到期 {g('due_on')} / follow-up visit due"
        case "case.followed_up":
            return f"回访完成，满意度 {g('satisfaction')}/5 / followed up, satisfaction {g('satisfaction')}/5"
        case "parts.request_opened":
            return f"配件申请 {g('part')}：本地采购（{g('sourcing_by')}） / key part requested, local sourcing first"
        case "parts.local_sourcing_reported":
            found = g("found")
            return (
                "本地采购到件" if found else "本地未采购到"
            ) + f" / local sourcing: {'found' if found else 'not found'}"
        case "parts.rma_opened":
            return f"供应商返修 {g('supplier')} RMA {g('rma_no') or '—'} / supplier RMA ({g('reason')})"
        case "parts.shipped":
            return f"发货 {g('direction')}：{g('carrier')} {g('tracking_no')} / shipped"
        case "parts.arrived":
            where = {
                "defective_at_company": "故障件已到公司",
                "defective_at_supplier": "故障件已到供应商",
                "good_part_in_field": "良品已送达经销商/区域经理",
            }.get(g("leg"), g("leg"))
            return f"{where}（{g('confirmed_by')} 确认，{g('arrived_on')}） / arrived: {g('leg')}"
        case "parts.leg_overdue":
            return (
                f"配件环节超时：{g('leg')}，待 {g('waiting_on')}，已上报经理 / path B leg overdue: {g('leg')}"
            )
        case "parts.repaired":
            return f"现场维修完成（{g('technician')}） / repaired on site, path {g('path')}"
        case "quote.issued":
            # No amount: the timeline is read by roles that may not see prices (R-PA-4). Issued, not sent:
            # the message that takes it to the customer shows when it was sent (notification.sent).
            return f"报价单 {g('quote_id')} 已出具，有效期至 {g('valid_until')} / quote issued"
        case "purchase.requested":
            return f"缺货，已通知采购：{g('item')} × {g('quantity')} / purchase requested"
        case "case.assignment_proposed":
            return f"建议分派给 {g('specialist_id')}，待经理确认（{g('reason')}） / proposed, waiting for the manager"
        case "case.liaison_assigned":
            return f"由品质售后 {g('specialist_id')} 负责答复客户 / {g('specialist_id')} answers the customer"
        case "case.reopened":
            why = {"low_satisfaction": "回访不满意", "customer_request": "客户要求", "manager": "经理"}.get(
                g("trigger"), g("trigger")
            )
            return f"重新打开（{why}，第 {g('times')} 次）：{g('reason')} / reopened ({g('trigger')})"
        case "case.follow_up_overdue":
            return (
                f"回访逾期 {g('overdue_days')} 天，已上报经理 / follow-up overdue, escalated to the manager"
            )
        case "remedy.chosen":
            return f"选定补救措施：{g('remedy')}（{g('chosen_by')}） / remedy chosen: {g('remedy')}"
        case "remedy.progressed":
            return f"补救措施进展：{g('remedy')} {g('step')}（{g('by')}） / remedy step: {g('step')}"
        case "remedy.completed":
            return f"补救措施已完成：{g('remedy')} / remedy carried out: {g('remedy')}"
        case "remedy.cancelled":
            return f"补救措施取消：{g('reason')} / remedy cancelled"
        case "repair.recorded":
            return f"维修记录单 {g('record_id')} 已填写（{g('repaired_on')}） / repair record filled in"
        case "notification.sent":
            what = {
                "reply": "答复",
                "quote": "报价单",
                "remedy_chosen": "处理方式",
                "remedy_completed": "办理完成通知",
                "follow_up_request": "回访邀请",
            }.get(g("kind"), g("kind"))
            how = "短信" if g("channel") == "sms" else "微信"
            return f"{what}已通过{how}发给客户（{g('reference')}） / {g('kind')} sent to the customer by {g('channel')}"
        case "notification.failed":
            return (
                f"发给客户的消息未能送达（{g('kind')} {g('reference')}，{g('attempts')} 次）：{g('reason')}"
                f" / message to the customer failed"
            )
        case "installation.case_linked":
            return f"关联工程项目 {g('project_id') or '（无）'} / linked to installation project"
        case "installation.maintenance_recorded":
            return f"工程维护：{g('work_done')} / installation maintenance recorded"
        case "warranty.decided":
            codes = ", ".join(r.code for r in g("reasons", []) or [])
            return f"保修判定：{g('decision')}，{g('remedy')}（{codes}） / warranty decided: {g('decision')}"
    return event_type

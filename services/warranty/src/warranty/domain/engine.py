"""The 三包 decision engine: three clocks per unit, the exclusions, and an explained decision.

Rules apply in this order, and every one that applies adds a reason:
  1. consumables are quoted, whatever the date (权益 2.4); a unit returned, or exchanged for another,
     has no warranty of its own left (the new unit has);
  2. software faults that a remote update can fix: free, at once, with no condition (§三.2.2A);
  3. excluded causes (权益 2.1-2.7) are chargeable whatever the date: over- or under-voltage only for the
     motor and the main board (2.3); within the first months after the sale the seller must prove the
     cause (an attachment on the case); freight both ways is the customer's only past the period (2.7);
  4. installation faults follow the workmanship clock (§二.3.4.2);
  5. other faults follow the equipment clock when the unit came with an accepted installation
     (§二.3.4.1), otherwise the product clock (权益 3), which needs the invoice and the stamped card
     unless the sale is proven another way; the clock runs from the exchange after one and is
     extended by every day the unit spent in repair;
  6. software that cannot be updated remotely: replacement with depreciation (§三.2.2B);
  7. hardware within the period: a repair of this case overdue (30 days through the company's fault,
     90 days for want of parts) → free exchange; the 三包 7-day and 15-day windows (counted to the day
     the customer reported the fault); repaired twice before (any repair) → exchange or return; else
     free repair. Outside it: paid repair, parts at cost and freight both ways;
  8. until the fault is confirmed with customer and dealer (§三.2.1) the decision is needs_evidence,
     with the outcome it would have shown.
All numbers come from the rule set (shared/src/shared/rulesets/*.yaml); the history comes from the unit's record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

from shared.contracts.warranty import Decision, Reason, Remedy
from shared.periods import add_months
from warranty.domain.rules import RuleSet

FaultKind = Literal["hardware", "software", "consumable", "installation"]
EXCLUSIONS = (
    "human_damage",
    "force_majeure",
    "unauthorized_repair",
    "voltage_damage",
    "consumable_not_covered",
    "normal_wear",
    "improper_use",
)


@dataclass(frozen=True)
class Product:
    serial_no: str | None = None
    model: str | None = None
    purchase_date: date | None = None
    invoice_date: date | None = None
    invoice_no: str | None = None
    service_card_stamped: bool | None = None
    sale_recorded: bool = False  # a dealer's sale record proves the purchase without the documents
    invoice_attached: bool = False  # a photo or scan of the invoice is on the case or the unit


@dataclass(frozen=True)
class Installation:
    accepted_on: date
    project_id: str | None = None


@dataclass(frozen=True)
class Repair:
    on: date
    part: str | None = None
    days: int = 0  # in repair or waiting for parts
    case_id: str | None = None  # repairs of one case are one repair visit


@dataclass(frozen=True)
class PendingRepair:
    """The repair this case is waiting for: since the unit was handed in, and whether for parts."""

    since: date
    waiting_for_parts: bool = False


@dataclass(frozen=True)
class History:
    repairs: tuple[Repair, ...] = ()
    exchange_date: date | None = None
    pending_repair: PendingRepair | None = None
    exchanged_for: str | None = None  # this unit was exchanged: the new unit's serial
    returned_on: date | None = None  # this unit went back to the company (a return)

    def repair_visits(self, clock: Clock, until: date) -> int:
        """Repairs within the clock and before `until`; the repairs of one case count once."""
        visits = {
            r.case_id or f"#{i}" for i, r in enumerate(self.repairs) if clock.covers(r.on) and r.on <= until
        }
        return len(visits)


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    reported_on: date
    part: str | None = None
    cause: str | None = None
    remote_update_possible: bool | None = None
    confirmed: bool = False
    cause_evidenced: bool = False  # an attachment (photo, voltage reading, signed form) backs the cause


@dataclass(frozen=True)
class Clock:
    kind: Literal["product", "installed_equipment", "installation_workmanship"]
    basis: Literal["purchase", "acceptance", "exchange"]
    start: date
    end: date  # the last day covered

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass
class Assessment:
    decision: Decision
    remedy: Remedy
    reasons: list[Reason]
    clocks: list[Clock]
    rule_set: str
    options: list[Remedy] = field(default_factory=list)
    key_part: str | None = None
    charge_hint: str | None = None
    depreciation_rate: float | None = None
    freight_both_ways: bool = False  # the customer pays freight both ways (权益 2.7: past the period only)
    earlier_repairs: int = 0


def _r(code: str, zh: str, en: str) -> Reason:
    return Reason(code=code, message_zh=zh, message_en=en)


_EXCLUSION_TEXT = {
    "human_damage": ("人为损坏或不可抗力（权益 2.1）", "Damage caused by people (rights 2.1)"),
    "force_majeure": (
        "火灾、水灾、飓风、雷击、地震、战争等不可抗力（权益 2.1）",
        "Force majeure: fire, flood, hurricane, lightning, earthquake, war (rights 2.1)",
    ),
    "unauthorized_repair": (
        "未经授权的拆装或维修（权益 2.2）",
        "Disassembled or repaired by someone not authorised (rights 2.2)",
    ),
    "voltage_damage": (
        "电压过高或过低（缺相）造成电机或控制板损坏（权益 2.3）",
        "Motor or control board damaged by over- or under-voltage, phase loss (rights 2.3)",
    ),
    "consumable_not_covered": (
        "滤网及过滤材料属耗材，不在保修范围（权益 2.4）",
        "Filters and filter media are consumables, not under warranty (rights 2.4)",
    ),
    "normal_wear": ("正常使用磨损（权益 2.5）", "Normal wear in use (rights 2.5)"),
    "improper_use": (
        "未按说明书安装、使用或存放（权益 2.6）",
        "Installed, used or stored against the manual (rights 2.6)",
    ),
}

_CLOCK_ZH = {
    "product": "整机保修期",
    "installed_equipment": "工程设备质保期",
    "installation_workmanship": "安装工程维保期",
}
_CLOCK_EN = {
    "product": "product warranty",
    "installed_equipment": "installed-equipment guarantee",
    "installation_workmanship": "installation maintenance year",
}


def clocks_for(
    product: Product, installation: Installation | None, history: History, rules: RuleSet
) -> list[Clock]:
    """The unit's clocks, each from its own start."""
    clocks: list[Clock] = []
    restart = history.exchange_date if rules.restart_on_exchange else None
    sold = product.invoice_date or product.purchase_date
    start, basis = (restart, "exchange") if restart else (sold, "purchase")
    if start is not None:
        end = add_months(start, rules.product_months)
        if rules.extend_by_repair_days:
            end = date.fromordinal(end.toordinal() + sum(r.days for r in history.repairs if r.on >= start))
        clocks.append(Clock("product", basis, start, end))  # type: ignore[arg-type]
    if installation is not None:
        accepted = installation.accepted_on
        clocks.append(
            Clock(
                "installed_equipment",
                "acceptance",
                accepted,
                add_months(accepted, rules.installed_equipment_months),
            )
        )
        clocks.append(
            Clock(
                "installation_workmanship",
                "acceptance",
                accepted,
                add_months(accepted, rules.installation_workmanship_months),
            )
        )
    return clocks


def assess(
    product: Product,
    fault: Fault,
    rules: RuleSet,
    *,
    installation: Installation | None = None,
    history: History | None = None,
    today: date | None = None,
) -> Assessment:
    """Decide one fault. `today` is the day of the decision (a pending repair's days run to it); the
    day the fault was reported when not given."""
    history = history or History()
    clocks = clocks_for(product, installation, history, rules)
    outcome = _decide(product, fault, rules, installation, history, clocks, today or fault.reported_on)
    # Buying a filter is not a fault to confirm, and a remote update is given at once (§三.2.2A);
    # everything else waits for the confirmation (§三.2.1).
    needs_confirming = outcome.decision != "needs_evidence" and outcome.remedy not in (
        "consumable_quote",
        "ota_update",
    )
    if rules.require_confirmation and not fault.confirmed and needs_confirming:
        shown = f"{outcome.decision}/{outcome.remedy}"
        outcome = replace(
            outcome,
            decision="needs_evidence",
            remedy="none",
            options=[],
            reasons=[
                _r(
                    "fault_not_confirmed",
                    f"故障尚未与客户及经销商确认（电话、微信或现场，§三.2.1）；确认后预计为 {shown}",
                    f"Fault not yet confirmed with the customer and dealer (phone, WeChat, on site, §3.2.1); "
                    f"once confirmed: {shown}",
                ),
                *outcome.reasons,
            ],
        )
    return outcome


def _decide(
    product: Product,
    fault: Fault,
    rules: RuleSet,
    installation: Installation | None,
    history: History,
    clocks: list[Clock],
    today: date,
) -> Assessment:
    by_kind = {c.kind: c for c in clocks}
    key_part = fault.part if fault.part in rules.key_parts else None
    # The clock that decides: the installed equipment's when the unit came with one, else the product's.
    clock = by_kind.get("installed_equipment") or by_kind.get("product")
    earlier = history.repair_visits(clock, fault.reported_on) if clock else len(history.repairs)

    def result(decision: Decision, remedy: Remedy, *reasons: Reason, **extra: Any) -> Assessment:
        # `extra`: Assessment's own optional fields (options, a quote basis…), checked where they are named.
        return Assessment(
            decision, remedy, list(reasons), clocks, rules.version, earlier_repairs=earlier, **extra
        )

    # 1. Consumables: quoted whatever the date. A unit no longer the customer's has no warranty left.
    if fault.kind == "consumable" or fault.part == "filter" or fault.cause == "consumable_not_covered":
        zh, en = _EXCLUSION_TEXT["consumable_not_covered"]
        return result(
            "chargeable",
            "consumable_quote",
            _r("consumable_not_covered", zh, en),
            charge_hint="滤网/滤芯按财务最新价格由售后专员报价 / filters are quoted by the specialist at finance's current price",
        )
    if history.returned_on is not None:
        return result(
            "needs_evidence",
            "none",
            _r(
                "unit_returned",
                f"该机已于 {history.returned_on} 退货，不再享有保修；请核对序列号",
                f"This unit was returned on {history.returned_on} and has no warranty left: check the serial number",
            ),
        )
    if history.exchanged_for is not None:
        return result(
            "needs_evidence",
            "none",
            _r(
                "unit_exchanged",
                f"该机已换货为 {history.exchanged_for}，保修随新机；请按新序列号报修",
                f"This unit was exchanged for {history.exchanged_for}; the warranty is the new unit's: "
                "report it under the new serial number",
            ),
        )

    # 2. Software a remote update can fix: free and at once, whatever the documents or the date (§三.2.2A).
    if fault.kind == "software" and fault.remote_update_possible is not False and fault.cause is None:
        return result(
            "covered",
            "ota_update",
            _r(
                "software_ota_free",
                "软件故障：立即免费远程在线升级（§三.2.2A），无需凭证",
                "Software fault: a free remote online update, at once, no documents asked (§3.2.2A)",
            ),
        )

    # 3. Excluded causes: chargeable whatever the date, within the clause's own reach.
    if fault.cause in EXCLUSIONS:
        excluded = _exclusion(product, fault, rules, installation, clock, key_part, result)
        if excluded is not None:
            return excluded
    not_excluded = (
        [
            _r(
                "voltage_exclusion_not_applicable",
                f"电压异常只排除电机或主板的损坏（权益 2.3）；{fault.part} 不在此列",
                f"Over- or under-voltage excludes only motor or main-board damage (rights 2.3), "
                f"not the {fault.part}",
            )
        ]
        if fault.cause == "voltage_damage"
        else []
    )

    # 4. Installation faults: the workmanship clock.
    if fault.kind == "installation":
        workmanship = by_kind.get("installation_workmanship")
        if workmanship is None:
            return result(
                "needs_evidence",
                "none",
                _r(
                    "no_installation_record",
                    "未找到该设备的工程验收记录，请提供项目编号或验收资料",
                    "No accepted installation found for this unit: give the project or the acceptance records",
                ),
            )
        if workmanship.covers(fault.reported_on):
            return result(
                "covered",
                "installation_maintenance",
                *not_excluded,
                _r(
                    "within_installation_maintenance",
                    f"安装工程维保期内（验收 {workmanship.start} 起一年，至 {workmanship.end}），免费维护（§二.3.4.2）",
                    f"Within the installation maintenance year ({workmanship.start} to {workmanship.end}): free (§2.3.4.2)",
                ),
            )
        return result(
            "chargeable",
            "paid_installation_maintenance",
            *not_excluded,
            _r(
                "installation_maintenance_expired",
                f"安装工程维保期已于 {workmanship.end} 届满，按实际情况收费（§二.3.4.2）",
                f"The installation maintenance year ended on {workmanship.end}: charged case by case (§2.3.4.2)",
            ),
            charge_hint="工程维护按实际情况收费：人工按财务工时费率、材料按价目 / labour at finance's rate card, "
            "materials at list price",
        )

    # 5. Which clock, and the documents behind it.
    proof: list[Reason] = []
    if clock is None or clock.kind == "product":
        missing = _missing_documents(product, rules, clock)
        if missing and not (product.sale_recorded and clock is not None):
            return result(
                "needs_evidence",
                "none",
                _r(
                    "missing_documents",
                    "保修凭证不全，缺少：" + "、".join(m[0] for m in missing) + "（权益 1-2，§三.2.3）",
                    "Warranty documents incomplete, missing "
                    + ", ".join(m[1] for m in missing)
                    + " (rights 1-2, §3.2.3)",
                ),
            )
        if missing:
            proof.append(
                _r(
                    "proven_by_sale_record",
                    "凭证不全，但经销商销售记录证明了购买日期",
                    "Documents incomplete, but the dealer's sale record proves the purchase date",
                )
            )
    assert clock is not None
    if fault.reported_on < clock.start:
        return result(
            "needs_evidence",
            "none",
            _r(
                "dates_inconsistent",
                f"报修日期 {fault.reported_on} 早于起算日 {clock.start}，请核对",
                f"Reported on {fault.reported_on}, before the warranty start {clock.start}: check the dates",
            ),
        )
    within = clock.covers(fault.reported_on)
    period = _r(
        f"within_{clock.kind}_warranty" if within else "out_of_warranty",
        f"{_CLOCK_ZH[clock.kind]} {clock.start} 至 {clock.end}" + ("内" if within else "已过"),
        f"{'Within' if within else 'Past'} the {_CLOCK_EN[clock.kind]} ({clock.start} to {clock.end})",
    )
    reasons = [*proof, *not_excluded, period]

    # 6. Software that no remote update can fix: replacement, agreed, with depreciation (§三.2.2B).
    if fault.kind == "software":
        age_months = _whole_months(clock.start, fault.reported_on)
        rate = rules.depreciation_rate(age_months)
        return result(
            "chargeable",
            "replacement_with_depreciation",
            *reasons,
            _r(
                "software_no_remote_update",
                f"无法远程升级：与客户协商更换新品或同类产品，按使用 {age_months} 个月折旧 {rate:.0%} 收取（§三.2.2B）",
                f"No remote update possible: replace with a new or similar product, charging {rate:.0%} "
                f"depreciation for {age_months} months of use, as agreed with the customer (§3.2.2B)",
            ),
            depreciation_rate=rate,
            charge_hint="更换产品的成本或折旧费，须客户同意 / the replacement's cost or depreciation, agreed by the customer",
        )

    # 7. Hardware.
    if not within:
        return result(
            "chargeable",
            "paid_repair",
            *reasons,
            _r(
                "out_of_warranty_charges",
                "超出保修期：配件按成本价、人工按工时收取，往返运费由客户承担（权益 2.7）",
                "Out of warranty: parts at cost and labour by the hour, freight both ways paid by the customer "
                "(rights 2.7)",
            ),
            key_part=key_part,
            freight_both_ways=True,
            charge_hint="配件成本价 + 人工 + 往返运费 / parts at cost + labour + freight both ways",
        )
    overdue = _overdue_repair(history.pending_repair, rules, today)
    if overdue is not None:
        return result("covered", "exchange", *reasons, overdue, options=["exchange"], key_part=key_part)
    if clock.kind == "product" and clock.basis == "purchase" and product.purchase_date:
        days = (fault.reported_on - product.purchase_date).days
        if days <= rules.return_within_days:
            return result(
                "covered",
                "return",
                *reasons,
                _r(
                    "sanbao_return_window",
                    f"售出 {days} 天内出现性能故障：客户可选择退货、换货或修理（三包 {rules.return_within_days} 日）",
                    f"Performance fault {days} days after sale: the customer chooses return, exchange or repair "
                    f"(三包 {rules.return_within_days}-day rule)",
                ),
                options=["return", "exchange", "free_repair"],
                key_part=key_part,
            )
        if days <= rules.exchange_within_days:
            return result(
                "covered",
                "exchange",
                *reasons,
                _r(
                    "sanbao_exchange_window",
                    f"售出 {days} 天内出现性能故障：客户可选择换货或修理（三包 {rules.exchange_within_days} 日）",
                    f"Performance fault {days} days after sale: the customer chooses exchange or repair "
                    f"(三包 {rules.exchange_within_days}-day rule)",
                ),
                options=["exchange", "free_repair"],
                key_part=key_part,
            )
    if earlier >= rules.repairs_before_exchange:
        return result(
            "covered",
            "exchange",
            *reasons,
            _r(
                "sanbao_repaired_twice",
                f"保修期内已修理 {earlier} 次仍不能正常使用：凭修理记录免费换货或退货（三包）",
                f"Repaired {earlier} times within the warranty and still failing: "
                "free exchange or return on the repair records (三包)",
            ),
            options=["exchange", "return"],
            key_part=key_part,
        )
    free = (
        _r(
            "free_repair_not_caused_by_people",
            "保修期内非人为故障，免费维修保养（§二.3.4.1）",
            "A fault not caused by people, within the guarantee: repaired and maintained free (§2.3.4.1)",
        )
        if clock.kind == "installed_equipment"
        else _r("free_repair_in_warranty", "保修期内免费维修", "Free repair within the warranty")
    )
    return result("covered", "free_repair", *reasons, free, key_part=key_part)


def _missing_documents(product: Product, rules: RuleSet, clock: Clock | None) -> list[tuple[str, str]]:
    missing = []
    if rules.require_invoice and not (product.invoice_no or product.invoice_attached):
        missing.append(("发票", "the invoice"))
    if rules.require_stamped_service_card and not product.service_card_stamped:
        missing.append(("经销商盖章的保修卡", "the dealer-stamped service card"))
    if clock is None:
        missing.append(("购买日期", "the purchase date"))
    if not product.serial_no:
        missing.append(("产品序列号", "the serial number"))
    return missing


def _exclusion(
    product: Product,
    fault: Fault,
    rules: RuleSet,
    installation: Installation | None,
    clock: Clock | None,
    key_part: str | None,
    result: Callable[..., Assessment],
) -> Assessment | None:
    """An excluded cause's decision, or None when the clause does not reach this fault."""
    assert fault.cause is not None
    if fault.cause == "voltage_damage" and fault.part not in rules.voltage_exclusion_parts:
        if fault.part is None:
            return result(
                "needs_evidence",
                "none",
                _r(
                    "voltage_damage_part_unknown",
                    "电压异常只排除电机或主板的损坏（权益 2.3）：请注明损坏的部件",
                    "Over- or under-voltage excludes only motor or main-board damage (rights 2.3): name the damaged part",
                ),
            )
        return None
    zh, en = _EXCLUSION_TEXT[fault.cause]
    delivered = installation.accepted_on if installation else (product.purchase_date or product.invoice_date)
    if (
        delivered is not None
        and not fault.cause_evidenced
        and fault.reported_on <= add_months(delivered, rules.burden_of_proof_months)
    ):
        return result(
            "needs_evidence",
            "none",
            _r(
                "exclusion_needs_proof",
                f"交付后 {rules.burden_of_proof_months} 个月内由销售方举证：请上传照片、电压记录或签字单证明{zh}",
                f"Within {rules.burden_of_proof_months} months of delivery the seller must prove the cause: attach a "
                f"photo, a voltage reading or a signed form showing: {en}",
            ),
        )
    past = clock is not None and not clock.covers(fault.reported_on)
    freight = (
        ("，往返运费由客户承担（权益 2.7）", " and freight both ways (rights 2.7)")
        if past
        else ("；保修期内运费由公司承担", "; within the period the company pays freight")
    )
    return result(
        "chargeable",
        "paid_repair",
        _r(fault.cause, f"不属保修范围：{zh}", f"Not covered: {en}"),
        key_part=key_part,
        freight_both_ways=past,
        charge_hint=f"有偿维修：配件按成本、人工按工时收取{freight[0]} / paid repair: parts at cost and labour by "
        f"the hour{freight[1]}",
    )


def _overdue_repair(pending: PendingRepair | None, rules: RuleSet, today: date) -> Reason | None:
    """三包: a repair overdue through the repairer's fault, or for want of parts → a free exchange."""
    if pending is None:
        return None
    days = (today - pending.since).days
    if pending.waiting_for_parts and days > rules.parts_wait_days_limit:
        return _r(
            "sanbao_parts_unavailable",
            f"送修 {days} 天仍因缺少配件未修复（超过 {rules.parts_wait_days_limit} 日）：免费换货（三包）",
            f"Not repaired {days} days after drop-off for want of parts (over {rules.parts_wait_days_limit} "
            "days): free exchange (三包)",
        )
    if not pending.waiting_for_parts and days > rules.repair_days_limit:
        return _r(
            "sanbao_repair_overdue",
            f"送修 {days} 天仍未修复（超过 {rules.repair_days_limit} 日，责任在维修方）：免费换货（三包）",
            f"Not repaired {days} days after drop-off through the repairer's fault (over "
            f"{rules.repair_days_limit} days): free exchange (三包)",
        )
    return None


def _whole_months(start: date, end: date) -> int:
    months = (end.year - start.year) * 12 + (end.month - start.month)
    return months - 1 if end.day < start.day else months

"""The 三包 decision engine: three clocks per unit, the exclusions, and an explained decision.

Rules apply in this order, and every one that applies adds a reason:
  1. consumables and excluded causes (权益 2.1-2.7) are chargeable whatever the date;
  2. installation faults follow the workmanship clock (§二.3.4.2);
  3. other faults follow the equipment clock when the unit came with an accepted installation
     (§二.3.4.1), otherwise the product clock (权益 3), which needs the invoice and the stamped card
     unless the sale is proven another way;
  4. software faults: a free remote update first; otherwise replacement with depreciation (§三.2.2);
  5. hardware within the period: the 三包 7-day and 15-day windows, then repaired-twice, then free repair;
     outside it: paid repair, parts at cost and freight both ways;
  6. until the fault is confirmed with customer and dealer (§三.2.1) the decision is needs_evidence,
     with the outcome it would have shown.
All numbers come from the rule set (shared/src/shared/rulesets/*.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

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


@dataclass(frozen=True)
class Installation:
    accepted_on: date
    project_id: str | None = None


@dataclass(frozen=True)
class Repair:
    on: date
    part: str | None = None
    days: int = 0  # in repair or waiting for parts


@dataclass(frozen=True)
class History:
    repairs: tuple[Repair, ...] = ()
    exchange_date: date | None = None


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    reported_on: date
    part: str | None = None
    cause: str | None = None
    remote_update_possible: bool | None = None
    confirmed: bool = False


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


def _r(code: str, zh: str, en: str) -> Reason:
    return Reason(code=code, message_zh=zh, message_en=en)


_EXCLUSION_TEXT = {
    "human_damage": ("人为损坏或不可抗力（权益 2.1）", "Damage caused by people (rights 2.1)"),
    "force_majeure": ("火灾、水灾、飓风、雷击、地震、战争等不可抗力（权益 2.1）", "Force majeure: fire, flood, hurricane, lightning, earthquake, war (rights 2.1)"),
    "unauthorized_repair": ("未经授权的拆装或维修（权益 2.2）", "Disassembled or repaired by someone not authorised (rights 2.2)"),
    "voltage_damage": ("电压过高或过低（缺相）造成电机或控制板损坏（权益 2.3）", "Motor or control board damaged by over- or under-voltage, phase loss (rights 2.3)"),
    "consumable_not_covered": ("滤网及过滤材料属耗材，不在保修范围（权益 2.4）", "Filters and filter media are consumables, not under warranty (rights 2.4)"),
    "normal_wear": ("正常使用磨损（权益 2.5）", "Normal wear in use (rights 2.5)"),
    "improper_use": ("未按说明书安装、使用或存放（权益 2.6）", "Installed, used or stored against the manual (rights 2.6)"),
}

_CLOCK_ZH = {"product": "整机保修期", "installed_equipment": "工程设备质保期", "installation_workmanship": "安装工程维保期"}
_CLOCK_EN = {"product": "product warranty", "installed_equipment": "installed-equipment guarantee",
             "installation_workmanship": "installation maintenance year"}


def clocks_for(product: Product, installation: Installation | None, history: History, rules: RuleSet) -> list[Clock]:
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
        clocks.append(Clock("installed_equipment", "acceptance", accepted, add_months(accepted, rules.installed_equipment_months)))
        clocks.append(
            Clock("installation_workmanship", "acceptance", accepted, add_months(accepted, rules.installation_workmanship_months))
        )
    return clocks


def assess(
    product: Product, fault: Fault, rules: RuleSet, *, installation: Installation | None = None, history: History | None = None
) -> Assessment:
    history = history or History()
    clocks = clocks_for(product, installation, history, rules)
    outcome = _decide(product, fault, rules, installation, history, clocks)
    # Buying a filter is not a fault to confirm; everything else waits for the confirmation (§三.2.1).
    needs_confirming = outcome.decision != "needs_evidence" and outcome.remedy != "consumable_quote"
    if rules.require_confirmation and not fault.confirmed and needs_confirming:
        shown = f"{outcome.decision}/{outcome.remedy}"
        outcome = replace(
            outcome,
            decision="needs_evidence",
            remedy="none",
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
) -> Assessment:
    def result(decision: Decision, remedy: Remedy, *reasons: Reason, **extra: object) -> Assessment:
        return Assessment(decision, remedy, list(reasons), clocks, rules.version, **extra)  # type: ignore[arg-type]

    by_kind = {c.kind: c for c in clocks}
    key_part = fault.part if fault.part in rules.key_parts else None

    # 1. Consumables and excluded causes: chargeable whatever the date.
    if fault.kind == "consumable" or fault.part == "filter" or fault.cause == "consumable_not_covered":
        zh, en = _EXCLUSION_TEXT["consumable_not_covered"]
        return result(
            "chargeable", "consumable_quote", _r("consumable_not_covered", zh, en),
            charge_hint="滤网/滤芯按财务最新价格由售后专员报价 / filters are quoted by the specialist at finance's current price",
        )
    if fault.cause in EXCLUSIONS:
        zh, en = _EXCLUSION_TEXT[fault.cause]
        return result(
            "chargeable", "paid_repair", _r(fault.cause, f"不属保修范围：{zh}", f"Not covered: {en}"),
            key_part=key_part, charge_hint="有偿维修：配件及人工按成本收取 / paid repair: parts and labour at cost",
        )

    # 2. Installation faults: the workmanship clock.
    if fault.kind == "installation":
        workmanship = by_kind.get("installation_workmanship")
        if workmanship is None:
            return result(
                "needs_evidence", "none",
                _r("no_installation_record", "未找到该设备的工程验收记录，请提供项目编号或验收资料",
                   "No accepted installation found for this unit: give the project or the acceptance records"),
            )
        if workmanship.covers(fault.reported_on):
            return result(
                "covered", "installation_maintenance",
                _r("within_installation_maintenance",
                   f"安装工程维保期内（验收 {workmanship.start} 起一年，至 {workmanship.end}），免费维护（§二.3.4.2）",
                   f"Within the installation maintenance year ({workmanship.start} to {workmanship.end}): free (§2.3.4.2)"),
            )
        return result(
            "chargeable", "paid_installation_maintenance",
            _r("installation_maintenance_expired",
               f"安装工程维保期已于 {workmanship.end} 届满，按实际情况收费（§二.3.4.2）",
               f"The installation maintenance year ended on {workmanship.end}: charged case by case (§2.3.4.2)"),
            charge_hint="工程维护按实际情况收费 / installation maintenance charged case by case",
        )

    # 3. Which clock, and the documents behind it.
    clock = by_kind.get("installed_equipment") or by_kind.get("product")
    proof: list[Reason] = []
    if clock is None or clock.kind == "product":
        missing = []
        if rules.require_invoice and not product.invoice_no:
            missing.append(("发票", "the invoice"))
        if rules.require_stamped_service_card and not product.service_card_stamped:
            missing.append(("经销商盖章的保修卡", "the dealer-stamped service card"))
        if clock is None:
            missing.append(("购买日期", "the purchase date"))
        if missing and not (product.sale_recorded and clock is not None):
            return result(
                "needs_evidence", "none",
                _r("missing_documents",
                   "保修凭证不全，缺少：" + "、".join(m[0] for m in missing) + "（权益 1-2，§三.2.3）",
                   "Warranty documents incomplete, missing " + ", ".join(m[1] for m in missing) + " (rights 1-2, §3.2.3)"),
            )
        if missing:
            proof.append(_r("proven_by_sale_record", "凭证不全，但经销商销售记录证明了购买日期",
                            "Documents incomplete, but the dealer's sale record proves the purchase date"))
    assert clock is not None
    if fault.reported_on < clock.start:
        return result(
            "needs_evidence", "none",
            _r("dates_inconsistent", f"报修日期 {fault.reported_on} 早于起算日 {clock.start}，请核对",
               f"Reported on {fault.reported_on}, before the warranty start {clock.start}: check the dates"),
        )
    within = clock.covers(fault.reported_on)
    period = _r(
        f"within_{clock.kind}_warranty" if within else "out_of_warranty",
        f"{_CLOCK_ZH[clock.kind]} {clock.start} 至 {clock.end}" + ("内" if within else "已过"),
        f"{'Within' if within else 'Past'} the {_CLOCK_EN[clock.kind]} ({clock.start} to {clock.end})",
    )

    # 4. Software: a free remote update first (§三.2.2).
    if fault.kind == "software":
        if fault.remote_update_possible is not False:
            return result(
                "covered", "ota_update", *proof, period,
                _r("software_ota_free", "软件故障：立即免费远程在线升级（§三.2.2）",
                   "Software fault: a free remote online update, at once (§3.2.2)"),
            )
        age_months = _whole_months(clock.start, fault.reported_on)
        rate = rules.depreciation_rate(age_months)
        return result(
            "chargeable", "replacement_with_depreciation", *proof, period,
            _r("software_no_remote_update",
               f"无法远程升级：与客户协商更换新品或同类产品，按使用 {age_months} 个月折旧 {rate:.0%} 收取（§三.2.2）",
               f"No remote update possible: replace with a new or similar product, charging {rate:.0%} "
               f"depreciation for {age_months} months of use, as agreed with the customer (§3.2.2)"),
            depreciation_rate=rate,
            charge_hint="更换产品的成本或折旧费 / the replacement's cost or depreciation",
        )

    # 5. Hardware.
    if not within:
        return result(
            "chargeable", "paid_repair", *proof, period,
            _r("out_of_warranty_charges", "超出保修期：配件按成本价收取，往返运费由客户承担（权益 2.7）",
               "Out of warranty: parts at cost, freight both ways paid by the customer (rights 2.7)"),
            key_part=key_part, charge_hint="配件成本价 + 往返运费 / parts at cost + freight both ways",
        )
    if clock.kind == "product" and clock.basis == "purchase" and product.purchase_date:
        days = (fault.reported_on - product.purchase_date).days
        if days <= rules.return_within_days:
            return result(
                "covered", "return", *proof, period,
                _r("sanbao_return_window",
                   f"售出 {days} 天内出现性能故障：客户可选择退货、换货或修理（三包 {rules.return_within_days} 日）",
                   f"Performance fault {days} days after sale: the customer chooses return, exchange or repair "
                   f"(三包 {rules.return_within_days}-day rule)"),
                options=["return", "exchange", "free_repair"], key_part=key_part,
            )
        if days <= rules.exchange_within_days:
            return result(
                "covered", "exchange", *proof, period,
                _r("sanbao_exchange_window",
                   f"售出 {days} 天内出现性能故障：客户可选择换货或修理（三包 {rules.exchange_within_days} 日）",
                   f"Performance fault {days} days after sale: the customer chooses exchange or repair "
                   f"(三包 {rules.exchange_within_days}-day rule)"),
                options=["exchange", "free_repair"], key_part=key_part,
            )
    same_fault = [r for r in history.repairs if clock.covers(r.on) and r.on <= fault.reported_on and r.part == fault.part]
    if len(same_fault) >= rules.repairs_before_exchange:
        return result(
            "covered", "exchange", *proof, period,
            _r("sanbao_repaired_twice",
               f"保修期内同一故障已修理 {len(same_fault)} 次仍不能正常使用：凭修理记录免费换货或退货（三包）",
               f"Repaired {len(same_fault)} times for the same fault within the warranty and still failing: "
               "free exchange or return on the repair records (三包)"),
            options=["exchange", "return"], key_part=key_part,
        )
    free = (
        _r("free_repair_not_caused_by_people", "保修期内非人为故障，免费维修保养（§二.3.4.1）",
           "A fault not caused by people, within the guarantee: repaired and maintained free (§2.3.4.1)")
        if clock.kind == "installed_equipment"
        else _r("free_repair_in_warranty", "保修期内免费维修", "Free repair within the warranty")
    )
    return result("covered", "free_repair", *proof, period, free, key_part=key_part)


def _whole_months(start: date, end: date) -> int:
    months = (end.year - start.year) * 12 + (end.month - start.month)
    return months - 1 if end.day < start.day else months

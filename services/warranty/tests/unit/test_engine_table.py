"""The decision engine, table by table: every reason code, every boundary, both bases (R-WA-1..6)."""

from __future__ import annotations

from datetime import date

import pytest

from shared.periods import add_months
from shared.rulesets import RULESETS_DIR
from warranty.domain.engine import Fault, History, Installation, PendingRepair, Product, Repair, assess
from warranty.domain.rules import RuleBook

RULES_DIR = RULESETS_DIR
RULES = RuleBook.from_directory(RULES_DIR).for_day(date(2026, 11, 26))
DOCS = {"invoice_no": "44001234", "service_card_stamped": True}


def product(purchased: str | None = "2025-03-18", **changes) -> Product:
    return Product(
        serial_no="XF2502405001234",
        model="YD-XF250",
        purchase_date=date.fromisoformat(purchased) if purchased else None,
        **(DOCS | changes),
    )


def fault(reported: str, kind: str = "hardware", **changes) -> Fault:
    return Fault(
        kind=kind,
        reported_on=date.fromisoformat(reported),
        confirmed=changes.pop("confirmed", True),
        **changes,
    )


def codes(a) -> list[str]:
    return [r.code for r in a.reasons]


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        ("2025-03-18", 12, "2026-03-18"),
        ("2024-02-29", 12, "2025-02-28"),
        ("2023-02-28", 12, "2024-02-28"),
        ("2025-01-31", 1, "2025-02-28"),
        ("2024-01-31", 1, "2024-02-29"),
        ("2025-12-15", 1, "2026-01-15"),
    ],
)
def test_periods_end_on_the_corresponding_day_or_month_end(start, months, end) -> None:
    assert add_months(date.fromisoformat(start), months) == date.fromisoformat(end)


@pytest.mark.parametrize(
    ("purchased", "reported", "decision", "code"),
    [
        ("2025-03-18", "2026-03-18", "covered", "within_product_warranty"),  # the last day in warranty
        ("2025-03-18", "2026-03-19", "chargeable", "out_of_warranty"),  # the first day out
        ("2024-02-29", "2025-02-28", "covered", "within_product_warranty"),  # leap day: month end
        ("2024-02-29", "2025-03-01", "chargeable", "out_of_warranty"),
        ("2023-02-28", "2024-02-28", "covered", "within_product_warranty"),
        ("2023-02-28", "2024-02-29", "chargeable", "out_of_warranty"),  # the leap day itself is out
    ],
)
def test_product_clock_boundaries(purchased, reported, decision, code) -> None:
    a = assess(product(purchased), fault(reported), RULES)
    assert a.decision == decision and code in codes(a)
    if decision == "chargeable":
        assert a.remedy == "paid_repair" and "out_of_warranty_charges" in codes(a)
        assert "freight" in (a.charge_hint or "")


@pytest.mark.parametrize(
    ("reported", "remedy", "code", "options"),
    [
        ("2026-11-08", "return", "sanbao_return_window", ["return", "exchange", "free_repair"]),  # day 7
        ("2026-11-09", "exchange", "sanbao_exchange_window", ["exchange", "free_repair"]),  # day 8
        ("2026-11-16", "exchange", "sanbao_exchange_window", ["exchange", "free_repair"]),  # day 15
        ("2026-11-17", "free_repair", "free_repair_in_warranty", []),  # day 16
    ],
)
def test_sanbao_7_and_15_day_windows_run_from_the_sale(reported, remedy, code, options) -> None:
    a = assess(product("2026-11-01"), fault(reported, part="motor"), RULES)
    assert (a.decision, a.remedy, a.options) == ("covered", remedy, options)
    assert code in codes(a) and a.key_part == "motor"


def test_the_warranty_runs_from_the_invoice_date_the_windows_from_the_sale() -> None:
    p = Product(
        serial_no="XF2502405001234", purchase_date=date(2025, 3, 1), invoice_date=date(2025, 3, 18), **DOCS
    )
    a = assess(p, fault("2026-03-18"), RULES)
    assert a.decision == "covered" and a.clocks[0].start == date(2025, 3, 18)


@pytest.mark.parametrize(
    ("repairs", "remedy", "code"),
    [
        (
            [("2025-06-01", "motor", "YD-1"), ("2025-09-01", "motor", "YD-2")],
            "exchange",
            "sanbao_repaired_twice",
        ),
        ([("2025-06-01", "motor", "YD-1")], "free_repair", "free_repair_in_warranty"),
        # Before the period: not counted.
        (
            [("2024-01-01", "motor", "YD-1"), ("2025-09-01", "motor", "YD-2")],
            "free_repair",
            "free_repair_in_warranty",
        ),
        # Two parts replaced on one case are one repair visit.
        (
            [("2025-06-01", "motor", "YD-1"), ("2025-06-01", "control_board", "YD-1")],
            "free_repair",
            "free_repair_in_warranty",
        ),
        # After the fault was reported: not yet a repair before it.
        (
            [("2025-06-01", "motor", "YD-1"), ("2025-12-02", "motor", "YD-2")],
            "free_repair",
            "free_repair_in_warranty",
        ),
    ],
)
def test_repaired_twice_within_the_period(repairs, remedy, code) -> None:
    history = History(repairs=tuple(Repair(date.fromisoformat(d), part, case_id=c) for d, part, c in repairs))
    a = assess(product(), fault("2025-12-01", part="motor"), RULES, history=history)
    assert (a.decision, a.remedy) == ("covered", remedy) and code in codes(a)
    if remedy == "exchange":
        assert a.options == ["exchange", "return"] and a.earlier_repairs == 2


def test_sanbao_repaired_twice_counts_any_repair_not_only_the_same_part() -> None:
    """三包 (1995 规定): repaired twice within the period and still failing → exchange or return; the rule
    names no part, so a motor and then a control board are two repairs."""
    history = History(
        repairs=(
            Repair(date(2025, 6, 1), "motor", case_id="YD-1"),
            Repair(date(2025, 9, 1), "control_board", case_id="YD-2"),
        )
    )
    a = assess(product(), fault("2025-12-01", part="fan"), RULES, history=history)
    assert (a.decision, a.remedy, a.options) == ("covered", "exchange", ["exchange", "return"])
    assert "sanbao_repaired_twice" in codes(a)


def test_repair_time_extends_the_warranty() -> None:
    history = History(
        repairs=(Repair(date(2025, 6, 1), "motor", days=12), Repair(date(2025, 9, 1), "fan", days=8))
    )
    assert assess(product(), fault("2026-04-07"), RULES, history=history).decision == "covered"
    assert assess(product(), fault("2026-04-08"), RULES, history=history).decision == "chargeable"


def test_an_exchange_restarts_the_clock() -> None:
    history = History(exchange_date=date(2025, 12, 1))
    a = assess(product("2024-01-10"), fault("2026-10-01"), RULES, history=history)
    assert a.decision == "covered" and a.clocks[0].basis == "exchange"
    assert assess(product("2024-01-10"), fault("2026-12-02"), RULES, history=history).decision == "chargeable"
    # No 7/15-day window after an exchange: those run from the sale.
    assert assess(product("2024-01-10"), fault("2025-12-03"), RULES, history=history).remedy == "free_repair"


@pytest.mark.parametrize(
    ("reported", "decision", "code"),
    [
        ("2026-09-30", "covered", "within_installed_equipment_warranty"),
        ("2026-10-01", "chargeable", "out_of_warranty"),
    ],
)
def test_installed_equipment_runs_from_acceptance_without_documents(reported, decision, code) -> None:
    a = assess(
        Product(serial_no="XF1K2501000007"),
        fault(reported),
        RULES,
        installation=Installation(date(2025, 9, 30), "P-2025-003"),
    )
    assert a.decision == decision and code in codes(a)
    if decision == "covered":
        assert "free_repair_not_caused_by_people" in codes(a)
    assert {c.kind for c in a.clocks} == {"installed_equipment", "installation_workmanship"}


@pytest.mark.parametrize(
    ("reported", "decision", "remedy", "code"),
    [
        ("2026-09-30", "covered", "installation_maintenance", "within_installation_maintenance"),
        ("2026-10-01", "chargeable", "paid_installation_maintenance", "installation_maintenance_expired"),
    ],
)
def test_installation_faults_follow_the_workmanship_year(reported, decision, remedy, code) -> None:
    a = assess(
        Product(), fault(reported, kind="installation"), RULES, installation=Installation(date(2025, 9, 30))
    )
    assert (a.decision, a.remedy) == (decision, remedy) and code in codes(a)


def test_installation_fault_without_an_installation_asks_for_it() -> None:
    a = assess(product(), fault("2025-05-01", kind="installation"), RULES)
    assert (a.decision, codes(a)) == ("needs_evidence", ["no_installation_record"])


@pytest.mark.parametrize(
    "cause",
    ["human_damage", "force_majeure", "unauthorized_repair", "voltage_damage", "normal_wear", "improper_use"],
)
def test_every_exclusion_is_chargeable_even_in_warranty(cause) -> None:
    a = assess(product(), fault("2025-05-01", part="control_board", cause=cause, cause_evidenced=True), RULES)
    assert (a.decision, a.remedy, codes(a)) == ("chargeable", "paid_repair", [cause])
    assert a.key_part == "control_board"


@pytest.mark.parametrize(
    ("reported", "evidenced", "decision"),
    [
        ("2025-09-18", False, "needs_evidence"),  # the sixth month's last day: the seller proves the cause
        ("2025-09-18", True, "chargeable"),
        ("2025-09-19", False, "chargeable"),  # past six months: the cause as found stands
    ],
)
def test_the_seller_proves_an_excluded_cause_in_the_first_six_months(reported, evidenced, decision) -> None:
    a = assess(
        product(), fault(reported, part="motor", cause="human_damage", cause_evidenced=evidenced), RULES
    )
    assert a.decision == decision
    if decision == "needs_evidence":
        assert codes(a) == ["exclusion_needs_proof"] and "attach" in a.reasons[0].message_en


@pytest.mark.parametrize("part", ["motor", "control_board"])
def test_rights_2_3_voltage_damage_excludes_the_motor_and_main_board(part) -> None:
    a = assess(product(), fault("2025-12-01", part=part, cause="voltage_damage"), RULES)
    assert (a.decision, a.remedy, codes(a)) == ("chargeable", "paid_repair", ["voltage_damage"])


@pytest.mark.parametrize("part", ["fan", "sensor", "heat_exchanger"])
def test_rights_2_3_voltage_damage_does_not_exclude_other_parts(part) -> None:
    """权益 2.3 names the motor and the main board (电机或主板) only: a fan burnt by over-voltage is repaired free."""
    a = assess(product(), fault("2025-12-01", part=part, cause="voltage_damage"), RULES)
    assert (a.decision, a.remedy) == ("covered", "free_repair")
    assert codes(a)[0] == "voltage_exclusion_not_applicable"


def test_rights_2_3_voltage_damage_without_a_part_asks_which() -> None:
    a = assess(product(), fault("2025-12-01", cause="voltage_damage"), RULES)
    assert (a.decision, codes(a)) == ("needs_evidence", ["voltage_damage_part_unknown"])


def test_rights_2_7_freight_both_ways_only_past_the_period() -> None:
    """权益 2.7 puts freight both ways on the customer past the warranty period; an excluded cause within
    the period is charged for parts and labour, the company pays the freight."""
    inside = assess(product(), fault("2025-12-01", part="motor", cause="improper_use"), RULES)
    assert (inside.decision, inside.freight_both_ways) == ("chargeable", False)
    assert "freight both ways" not in (inside.charge_hint or "")
    past = assess(product(), fault("2026-05-01", part="motor", cause="improper_use"), RULES)
    assert (past.decision, past.freight_both_ways) == ("chargeable", True)
    assert "freight both ways" in (past.charge_hint or "")
    out = assess(product(), fault("2026-05-01", part="motor"), RULES)
    assert (out.remedy, out.freight_both_ways) == ("paid_repair", True)


@pytest.mark.parametrize(
    "f",
    [
        fault("2025-05-01", kind="consumable"),
        fault("2025-05-01", part="filter"),
        fault("2025-05-01", cause="consumable_not_covered"),
    ],
)
def test_filters_are_consumables_quoted_not_covered(f) -> None:
    a = assess(product(), f, RULES)
    assert (a.decision, a.remedy, codes(a)) == ("chargeable", "consumable_quote", ["consumable_not_covered"])


@pytest.mark.parametrize(
    ("changes", "missing"),
    [
        ({"invoice_no": None}, "invoice"),
        ({"service_card_stamped": False}, "service card"),
        ({"service_card_stamped": None, "invoice_no": None}, "invoice"),
    ],
)
def test_missing_documents_need_evidence(changes, missing) -> None:
    a = assess(product(**changes), fault("2025-05-01"), RULES)
    assert (a.decision, a.remedy, codes(a)) == ("needs_evidence", "none", ["missing_documents"])
    assert missing in a.reasons[0].message_en


def test_missing_purchase_date_needs_evidence() -> None:
    a = assess(product(None), fault("2025-05-01"), RULES)
    assert a.decision == "needs_evidence" and "purchase date" in a.reasons[0].message_en


def test_a_dealer_sale_record_proves_the_purchase_without_documents() -> None:
    a = assess(
        product(invoice_no=None, service_card_stamped=False, sale_recorded=True), fault("2025-05-01"), RULES
    )
    assert a.decision == "covered" and "proven_by_sale_record" in codes(a)


def test_dates_before_the_start_are_inconsistent() -> None:
    a = assess(product("2025-03-18"), fault("2025-03-01"), RULES)
    assert (a.decision, codes(a)) == ("needs_evidence", ["dates_inconsistent"])


def test_software_fault_gets_a_free_remote_update_first_even_out_of_warranty() -> None:
    for reported in ("2025-05-01", "2027-05-01"):
        a = assess(product(), fault(reported, kind="software"), RULES)
        assert (a.decision, a.remedy) == ("covered", "ota_update") and "software_ota_free" in codes(a)


@pytest.mark.parametrize(
    "p", [product(None, invoice_no=None, service_card_stamped=None), Product(), product(invoice_no=None)]
)
def test_clause_3_2_2A_a_remote_update_waits_for_no_documents(p) -> None:
    """§三.2.2A: where a remote online update can fix it, the specialist gives it free 在第一时间 — the
    invoice and the stamped card are not asked for first."""
    a = assess(p, fault("2026-11-20", kind="software"), RULES)
    assert (a.decision, a.remedy, codes(a)) == ("covered", "ota_update", ["software_ota_free"])


@pytest.mark.parametrize(
    ("reported", "remedy"),
    [("2026-11-08", "return"), ("2026-11-16", "exchange"), ("2026-11-17", "free_repair")],
)
def test_sanbao_windows_count_to_the_day_the_customer_reported(reported, remedy) -> None:
    """三包 7/15 days: the windows run from the sale to the day the customer reported the fault (the call, the
    day told to the dealer), not to the day the case reached dispatch (the case carries that day)."""
    a = assess(product("2026-11-01"), fault(reported, part="motor"), RULES, today=date(2026, 12, 20))
    assert a.remedy == remedy


def test_a_dealer_ticket_without_documents_asks_for_each_of_them() -> None:
    a = assess(Product(model="YD-XF250"), fault("2026-11-20"), RULES)
    assert (a.decision, codes(a)) == ("needs_evidence", ["missing_documents"])
    for wanted in ("the invoice", "service card", "purchase date", "serial number"):
        assert wanted in a.reasons[0].message_en


def test_an_invoice_attachment_stands_for_the_invoice_number() -> None:
    a = assess(product(invoice_no=None, invoice_attached=True), fault("2025-05-01"), RULES)
    assert a.decision == "covered"


@pytest.mark.parametrize(
    ("reported", "rate"), [("2025-06-18", 0.10), ("2025-07-18", 0.20), ("2026-02-18", 0.35)]
)
def test_software_without_remote_update_is_replaced_with_depreciation(reported, rate) -> None:
    a = assess(product(), fault(reported, kind="software", remote_update_possible=False), RULES)
    assert (a.decision, a.remedy) == ("chargeable", "replacement_with_depreciation")
    assert "software_no_remote_update" in codes(a) and a.depreciation_rate == rate


def test_unconfirmed_faults_need_confirmation_and_show_the_expected_outcome() -> None:
    a = assess(product(), fault("2025-05-01", part="motor", confirmed=False), RULES)
    assert (a.decision, a.remedy) == ("needs_evidence", "none")
    assert codes(a)[0] == "fault_not_confirmed" and "covered/free_repair" in a.reasons[0].message_en
    assert "within_product_warranty" in codes(a)


def test_rule_sets_are_chosen_by_date() -> None:
    book = RuleBook.from_directory(RULES_DIR)
    assert book.for_day(date(2026, 11, 26)).version == "2026-11-01"
    assert RULES.return_within_days == 7 and RULES.exchange_within_days == 15 and RULES.product_months == 12


def test_a_consumable_needs_no_confirmation_before_its_quote() -> None:
    a = assess(product(), fault("2025-05-01", kind="consumable", confirmed=False), RULES)
    assert (a.decision, a.remedy, codes(a)) == ("chargeable", "consumable_quote", ["consumable_not_covered"])


@pytest.mark.parametrize(
    ("since", "waiting", "remedy", "code"),
    [
        ("2025-05-01", False, "free_repair", "free_repair_in_warranty"),  # day 30: not yet
        ("2025-04-30", False, "exchange", "sanbao_repair_overdue"),  # day 31, the repairer's fault
        ("2025-04-30", True, "free_repair", "free_repair_in_warranty"),  # waiting for parts: the 90-day rule
        ("2025-03-02", True, "free_repair", "free_repair_in_warranty"),  # day 90
        ("2025-03-01", True, "exchange", "sanbao_parts_unavailable"),  # day 91
    ],
)
def test_a_repair_overdue_30_days_or_90_for_parts_is_a_free_exchange(since, waiting, remedy, code) -> None:
    history = History(pending_repair=PendingRepair(date.fromisoformat(since), waiting))
    a = assess(
        product("2025-01-10"),
        fault("2025-04-20", part="motor"),
        RULES,
        history=history,
        today=date(2025, 5, 31),
    )
    assert (a.decision, a.remedy) == ("covered", remedy) and code in codes(a)
    if remedy == "exchange":
        assert a.options == ["exchange"]


def test_a_unit_returned_or_exchanged_has_no_warranty_of_its_own() -> None:
    returned = assess(product(), fault("2025-05-01"), RULES, history=History(returned_on=date(2025, 4, 1)))
    assert (returned.decision, codes(returned)) == ("needs_evidence", ["unit_returned"])
    old = assess(product(), fault("2025-05-01"), RULES, history=History(exchanged_for="XF2502504000001"))
    assert codes(old) == ["unit_exchanged"] and "XF2502504000001" in old.reasons[0].message_en

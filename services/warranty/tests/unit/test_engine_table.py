"""The decision engine, table by table: every reason code, every boundary, both bases (R-WA-1..6)."""

from __future__ import annotations

from datetime import date

import pytest

from shared.periods import add_months
from shared.rulesets import RULESETS_DIR
from warranty.domain.engine import Fault, History, Installation, Product, Repair, assess
from warranty.domain.rules import RuleBook

RULES_DIR = RULESETS_DIR
RULES = RuleBook.from_directory(RULES_DIR).for_day(date(2026, 11, 26))
DOCS = {"invoice_no": "44001234", "service_card_stamped": True}


def product(purchased: str | None = "2025-03-18", **changes) -> Product:
    return Product(serial_no="XF2502405001234", model="YD-XF250",
                   purchase_date=date.fromisoformat(purchased) if purchased else None, **(DOCS | changes))


def fault(reported: str, kind: str = "hardware", **changes) -> Fault:
    return Fault(kind=kind, reported_on=date.fromisoformat(reported), confirmed=changes.pop("confirmed", True), **changes)


def codes(a) -> list[str]:
    return [r.code for r in a.reasons]


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [("2025-03-18", 12, "2026-03-18"), ("2024-02-29", 12, "2025-02-28"), ("2023-02-28", 12, "2024-02-28"),
     ("2025-01-31", 1, "2025-02-28"), ("2024-01-31", 1, "2024-02-29"), ("2025-12-15", 1, "2026-01-15")],
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
    p = Product(purchase_date=date(2025, 3, 1), invoice_date=date(2025, 3, 18), **DOCS)
    a = assess(p, fault("2026-03-18"), RULES)
    assert a.decision == "covered" and a.clocks[0].start == date(2025, 3, 18)


@pytest.mark.parametrize(
    ("repairs", "remedy", "code"),
    [
        ([("2025-06-01", "motor"), ("2025-09-01", "motor")], "exchange", "sanbao_repaired_twice"),
        ([("2025-06-01", "motor")], "free_repair", "free_repair_in_warranty"),
        ([("2025-06-01", "control_board"), ("2025-09-01", "control_board")], "free_repair", "free_repair_in_warranty"),
        ([("2024-01-01", "motor"), ("2025-09-01", "motor")], "free_repair", "free_repair_in_warranty"),  # one before
    ],
)
def test_repaired_twice_for_the_same_fault(repairs, remedy, code) -> None:
    history = History(repairs=tuple(Repair(date.fromisoformat(d), part) for d, part in repairs))
    a = assess(product(), fault("2025-12-01", part="motor"), RULES, history=history)
    assert (a.decision, a.remedy) == ("covered", remedy) and code in codes(a)
    if remedy == "exchange":
        assert a.options == ["exchange", "return"]


def test_repair_time_extends_the_warranty() -> None:
    history = History(repairs=(Repair(date(2025, 6, 1), "motor", days=12), Repair(date(2025, 9, 1), "fan", days=8)))
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
    [("2026-09-30", "covered", "within_installed_equipment_warranty"),
     ("2026-10-01", "chargeable", "out_of_warranty")],
)
def test_installed_equipment_runs_from_acceptance_without_documents(reported, decision, code) -> None:
    a = assess(Product(serial_no="XF1K2501000007"), fault(reported), RULES,
               installation=Installation(date(2025, 9, 30), "P-2025-003"))
    assert a.decision == decision and code in codes(a)
    if decision == "covered":
        assert "free_repair_not_caused_by_people" in codes(a)
    assert {c.kind for c in a.clocks} == {"installed_equipment", "installation_workmanship"}


@pytest.mark.parametrize(
    ("reported", "decision", "remedy", "code"),
    [("2026-09-30", "covered", "installation_maintenance", "within_installation_maintenance"),
     ("2026-10-01", "chargeable", "paid_installation_maintenance", "installation_maintenance_expired")],
)
def test_installation_faults_follow_the_workmanship_year(reported, decision, remedy, code) -> None:
    a = assess(Product(), fault(reported, kind="installation"), RULES, installation=Installation(date(2025, 9, 30)))
    assert (a.decision, a.remedy) == (decision, remedy) and code in codes(a)


def test_installation_fault_without_an_installation_asks_for_it() -> None:
    a = assess(product(), fault("2025-05-01", kind="installation"), RULES)
    assert (a.decision, codes(a)) == ("needs_evidence", ["no_installation_record"])


@pytest.mark.parametrize("cause", ["human_damage", "force_majeure", "unauthorized_repair", "voltage_damage",
                                   "normal_wear", "improper_use"])
def test_every_exclusion_is_chargeable_even_in_warranty(cause) -> None:
    a = assess(product(), fault("2025-05-01", part="control_board", cause=cause), RULES)
    assert (a.decision, a.remedy, codes(a)) == ("chargeable", "paid_repair", [cause])
    assert a.key_part == "control_board"


@pytest.mark.parametrize("f", [fault("2025-05-01", kind="consumable"), fault("2025-05-01", part="filter"),
                               fault("2025-05-01", cause="consumable_not_covered")])
def test_filters_are_consumables_quoted_not_covered(f) -> None:
    a = assess(product(), f, RULES)
    assert (a.decision, a.remedy, codes(a)) == ("chargeable", "consumable_quote", ["consumable_not_covered"])


@pytest.mark.parametrize(
    ("changes", "missing"),
    [({"invoice_no": None}, "invoice"), ({"service_card_stamped": False}, "service card"),
     ({"service_card_stamped": None, "invoice_no": None}, "invoice")],
)
def test_missing_documents_need_evidence(changes, missing) -> None:
    a = assess(product(**changes), fault("2025-05-01"), RULES)
    assert (a.decision, a.remedy, codes(a)) == ("needs_evidence", "none", ["missing_documents"])
    assert missing in a.reasons[0].message_en


def test_missing_purchase_date_needs_evidence() -> None:
    a = assess(product(None), fault("2025-05-01"), RULES)
    assert a.decision == "needs_evidence" and "purchase date" in a.reasons[0].message_en


def test_a_dealer_sale_record_proves_the_purchase_without_documents() -> None:
    a = assess(product(invoice_no=None, service_card_stamped=False, sale_recorded=True), fault("2025-05-01"), RULES)
    assert a.decision == "covered" and "proven_by_sale_record" in codes(a)


def test_dates_before_the_start_are_inconsistent() -> None:
    a = assess(product("2025-03-18"), fault("2025-03-01"), RULES)
    assert (a.decision, codes(a)) == ("needs_evidence", ["dates_inconsistent"])


def test_software_fault_gets_a_free_remote_update_first_even_out_of_warranty() -> None:
    for reported in ("2025-05-01", "2027-05-01"):
        a = assess(product(), fault(reported, kind="software"), RULES)
        assert (a.decision, a.remedy) == ("covered", "ota_update") and "software_ota_free" in codes(a)


@pytest.mark.parametrize(("reported", "rate"), [("2025-06-18", 0.10), ("2025-07-18", 0.20), ("2026-02-18", 0.35)])
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

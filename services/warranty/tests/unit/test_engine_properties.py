"""Properties of the engine over generated units and faults (hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.rulesets import RULESETS_DIR
from warranty.domain.engine import (
    EXCLUSIONS,
    Fault,
    History,
    Installation,
    PendingRepair,
    Product,
    Repair,
    assess,
)
from warranty.domain.rules import RuleBook

RULES = RuleBook.from_directory(RULESETS_DIR).for_day(date(2026, 11, 26))

days = st.dates(min_value=date(2019, 1, 1), max_value=date(2029, 12, 31))
products = st.builds(
    Product,
    serial_no=st.none() | st.just("XF2502405001234"),
    purchase_date=st.none() | days,
    invoice_date=st.none() | days,
    invoice_no=st.none() | st.just("44001234"),
    service_card_stamped=st.none() | st.booleans(),
    sale_recorded=st.booleans(),
)
installations = st.none() | st.builds(Installation, accepted_on=days)
histories = st.builds(
    History,
    repairs=st.lists(
        st.builds(
            Repair,
            on=days,
            part=st.sampled_from([None, "motor", "control_board"]),
            days=st.integers(0, 60),
            case_id=st.none() | st.sampled_from(["YD-1", "YD-2"]),
        ),
        max_size=4,
    ).map(tuple),
    exchange_date=st.none() | days,
    pending_repair=st.none() | st.builds(PendingRepair, since=days, waiting_for_parts=st.booleans()),
    exchanged_for=st.none() | st.just("XF2502405009999"),
    returned_on=st.none() | days,
)
faults = st.builds(
    Fault,
    kind=st.sampled_from(["hardware", "software", "consumable", "installation"]),
    reported_on=days,
    part=st.sampled_from([None, "motor", "control_board", "filter", "fan"]),
    cause=st.none() | st.sampled_from(EXCLUSIONS),
    remote_update_possible=st.none() | st.booleans(),
    confirmed=st.booleans(),
    cause_evidenced=st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(products, faults, installations, histories)
def test_every_decision_carries_at_least_one_reason(p, f, i, h) -> None:
    a = assess(p, f, RULES, installation=i, history=h)
    assert a.reasons
    assert a.rule_set == RULES.version
    if a.decision == "needs_evidence":
        assert a.remedy == "none"


@settings(max_examples=300, deadline=None)
@given(
    products,
    installations,
    histories,
    st.sampled_from(["hardware", "software"]),
    st.sampled_from([None, "motor", "control_board", "fan"]),
    days,
)
def test_covered_on_a_day_means_covered_on_every_earlier_day_of_the_clock(p, i, h, kind, part, day) -> None:
    f = Fault(kind=kind, reported_on=day, part=part, cause=None, remote_update_possible=False, confirmed=True)
    a = assess(p, f, RULES, installation=i, history=h)
    if a.decision != "covered":
        return
    # The clock that decided: the installation's when the unit came with one, else the product's.
    if a.remedy == "ota_update":
        return  # a free remote update whatever the date or the documents (§三.2.2A)
    by_kind = {c.kind: c for c in a.clocks}
    clock = by_kind.get("installed_equipment") or by_kind["product"]
    assert clock.covers(day) or kind == "software"
    if not clock.covers(day):
        return  # a free remote update outside the period: no period to walk back through
    step = max(1, (day - clock.start).days // 40)
    earlier = day - timedelta(days=step)
    while earlier >= clock.start:
        b = assess(
            p,
            Fault(
                kind=kind,
                reported_on=earlier,
                part=part,
                cause=None,
                remote_update_possible=False,
                confirmed=True,
            ),
            RULES,
            installation=i,
            history=h,
        )
        assert b.decision == "covered", (earlier, b.reasons)
        earlier -= timedelta(days=step)

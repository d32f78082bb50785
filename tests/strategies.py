"""Hypothesis strategies for beneficiaries' facts and decisions."""
from __future__ import annotations

from datetime import date, timedelta

from hypothesis import strategies as st

from ledger import citizen_id as cid
from ledger.decisions import Decision
from ledger.months import Month

CODES = ("ORPHAN", "STUDENT_16_22", "HIV_CHILD", "SINGLE_PARENT", "ELDERLY_POOR",
         "ELDERLY_75_MOUNTAIN", "ELDERLY_80", "ELDERLY_CARED", "DISABLED_SPECIAL",
         "DISABLED_SEVERE", "CHILD_U3_MOUNTAIN", "HIV_ADULT")

FIRST = Month.parse("2021-07")
LAST = Month.parse("2027-12")

months = st.integers(FIRST.index, LAST.index).map(Month)
categories = st.lists(st.sampled_from(CODES), min_size=1, max_size=3, unique=True)


@st.composite
def registration(draw, citizen_serial: int = 1) -> Decision:
    birth = draw(st.dates(date(1920, 1, 1), date(2024, 6, 30)))
    sex = draw(st.sampled_from("MF"))
    start = draw(months.filter(lambda m: m >= Month.containing(birth)))
    cats = tuple(draw(categories))
    return Decision(
        decision_no=f"R{citizen_serial}", signed_on=start.first_day + timedelta(days=3),
        kind="register", citizen_id=cid.make(51, birth.year, sex, citizen_serial),
        effective=start, full_name="Test Person", birth_date=birth, sex=sex,
        province_code=draw(st.sampled_from(["051", "001", "079"])), commune_code="20101",
        categories=cats, children_count=draw(st.integers(1, 4)) if "SINGLE_PARENT" in cats else 0,
        channel="cash", agent_code="VNPOST-1",
    )


@st.composite
def later_decision(draw, reg: Decision, number: int) -> Decision:
    kind = draw(st.sampled_from(["change_category", "reassess_disability", "suspend", "resume",
                                 "terminate", "relocate_out", "relocate_in"]))
    effective = draw(months.filter(lambda m: m >= Month.containing(reg.birth_date)))
    signed_on = draw(st.dates(effective.first_day - timedelta(days=400), effective.first_day + timedelta(days=400)))
    cats = tuple(draw(categories)) if kind in ("change_category", "reassess_disability") else ()
    return Decision(
        decision_no=f"D{number}", signed_on=signed_on, kind=kind, citizen_id=reg.citizen_id,
        effective=effective, categories=cats,
        children_count=2 if "SINGLE_PARENT" in cats else 0,
        province_code="051" if kind == "relocate_in" else "",
        commune_code="20102" if kind == "relocate_in" else "",
        reason="test" if kind in ("suspend", "resume", "terminate") else "",
    )


@st.composite
def history(draw, serial: int = 1, max_later: int = 5) -> tuple[Decision, list[Decision]]:
    reg = draw(registration(serial))
    count = draw(st.integers(0, max_later))
    later = [draw(later_decision(reg, i)) for i in range(count)]
    return reg, later

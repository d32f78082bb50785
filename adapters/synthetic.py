"""A synthetic district or province, deterministic by seed: beneficiaries
with a realistic mix of categories and ages, 70 % paid in cash by post
offices and 30 % by banks, and later decisions about them. Used by the demo,
the tests and the benchmarks; it writes the same files the office sends."""
from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Iterable

from ledger import citizen_id as cid
from ledger.months import Month

DECISION_COLUMNS = (
    "decision_no", "signed_on", "kind", "citizen_id", "full_name", "birth_date", "sex",
    "province_code", "commune_code", "category", "children_count", "effective_month",
    "channel", "agent_code", "bank_account", "proxy_name", "proxy_citizen_id",
    "home_delivery", "reason",
)

# (category, share, youngest age, oldest age) at registration.
MIX = (
    ("ELDERLY_80", 0.42, 80, 99),
    ("ELDERLY_POOR", 0.05, 60, 95),
    ("ELDERLY_75_MOUNTAIN", 0.03, 75, 79),
    ("ELDERLY_CARED", 0.01, 60, 95),
    ("DISABLED_SEVERE", 0.24, 1, 90),
    ("DISABLED_SPECIAL", 0.10, 1, 90),
    ("ORPHAN", 0.03, 0, 14),
    ("STUDENT_16_22", 0.01, 16, 20),
    ("HIV_CHILD", 0.005, 0, 14),
    ("HIV_ADULT", 0.015, 18, 60),
    ("SINGLE_PARENT", 0.02, 22, 50),
    ("CHILD_U3_MOUNTAIN", 0.03, 0, 1),
)

FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ")
MIDDLE = ("Văn", "Thị", "Hữu", "Đức", "Ngọc", "Minh", "Thanh", "Xuân")
GIVEN = ("An", "Bình", "Cúc", "Dũng", "Hà", "Hải", "Hoa", "Hùng", "Lan", "Long", "Mai", "Nam",
         "Nga", "Phúc", "Quang", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Vân", "Yến")


@dataclass(frozen=True)
class Area:
    province_code: str = "051"  # Quảng Ngãi
    district: str = "BS"
    communes_count: int = 20
    people_per_post_office: int = 25_000

    def commune(self, index: int) -> str:
        return f"{int(self.province_code) * 1000 + 100 + index:05d}"

    def post_office(self, commune_index: int, people: int) -> str:
        offices = max(1, people // self.people_per_post_office)
        return f"VNPOST-{self.district}-{commune_index % offices + 1:02d}"

    def bank(self, index: int) -> str:
        return ("BANK-VBSP-QNG", "BANK-AGRI-QNG")[index % 2]


def _birth_date(rng: random.Random, on: date, youngest: int, oldest: int) -> date:
    age_days = rng.randint(youngest * 365 + 40, oldest * 365 + 300)
    return on - timedelta(days=age_days)


def _name(rng: random.Random, sex: str) -> str:
    middle = "Thị" if sex == "F" and rng.random() < 0.7 else rng.choice(MIDDLE)
    return f"{rng.choice(FAMILY)} {middle} {rng.choice(GIVEN)}"


def registrations(count: int, *, seed: int = 1, area: Area = Area(),
                  first: Month = Month.parse("2024-01"), months_count: int = 6) -> list[dict]:
    """``count`` register decisions signed over ``months_count`` months."""
    rng = random.Random(seed)
    weights = [share for _, share, _, _ in MIX]
    communes_count = max(1, min(area.communes_count, count // 50 or 1))
    rows, used = [], set()
    for i in range(count):
        category, _, youngest, oldest = rng.choices(MIX, weights)[0]
        month = first + rng.randrange(months_count)
        signed_on = month.first_day + timedelta(days=rng.randint(0, 20))
        birth = _birth_date(rng, month.first_day, youngest, oldest)
        sex = rng.choice("MF")
        serial = i % 1_000_000
        citizen_id = cid.make(int(area.province_code), birth.year, sex, serial)
        while citizen_id in used:
            serial = (serial + 7919) % 1_000_000
            citizen_id = cid.make(int(area.province_code), birth.year, sex, serial)
        used.add(citizen_id)
        commune_index = rng.randrange(communes_count)
        categories = [category]
        children = ""
        if category == "SINGLE_PARENT":
            children = str(rng.randint(1, 3))
            if rng.random() < 0.2:
                categories.append("DISABLED_SEVERE")
        bank = rng.random() < 0.30
        rows.append(dict(
            decision_no=f"{1000 + i}/QĐ-UBND", signed_on=signed_on.isoformat(), kind="register",
            citizen_id=citizen_id, full_name=_name(rng, sex), birth_date=birth.isoformat(),
            sex=sex, province_code=area.province_code, commune_code=area.commune(commune_index),
            category=";".join(categories), children_count=children, effective_month=str(month),
            channel="bank" if bank else "cash",
            agent_code=area.bank(i) if bank else area.post_office(commune_index, count),
            bank_account=f"{rng.randrange(10**11, 10**12)}" if bank else "",
            home_delivery="" if bank else ("y" if rng.random() < 0.08 else "n"),
        ))
    return rows


def later_decisions(registered: list[dict], *, seed: int, month: Month,
                    share: float = 0.02, area: Area = Area()) -> list[dict]:
    """Changes signed in ``month``: back-dated disability reassessments,
    category changes, channel changes, proxies, terminations."""
    rng = random.Random(seed * 7_919 + month.index)
    rows = []
    for index, reg in enumerate(registered):
        if rng.random() >= share or Month.parse(reg["effective_month"]) >= month:
            continue
        signed_on = (month.first_day + timedelta(days=rng.randint(0, 20))).isoformat()
        base = dict.fromkeys(DECISION_COLUMNS, "")
        base.update(decision_no=f"{month.index % 1000}{index:06d}/QĐ-UBND", signed_on=signed_on,
                    citizen_id=reg["citizen_id"])
        pick = rng.random()
        if pick < 0.35 and reg["category"] == "DISABLED_SEVERE":
            # Reassessed as special severe, effective some months back.
            base.update(kind="reassess_disability", category="DISABLED_SPECIAL",
                        effective_month=str(month - rng.randint(1, 4)))
        elif pick < 0.55:
            base.update(kind="change_channel", effective_month=str(month + 1),
                        channel="bank", agent_code=area.bank(index),
                        bank_account=f"{rng.randrange(10**11, 10**12)}")
        elif pick < 0.75:
            sex = rng.choice("MF")
            proxy_birth = date(rng.randint(1960, 2000), rng.randint(1, 12), rng.randint(1, 28))
            base.update(kind="authorize_proxy", effective_month=str(month),
                        proxy_name=_name(rng, sex),
                        proxy_citizen_id=cid.make(int(area.province_code), proxy_birth.year, sex,
                                                  900_000 + index % 100_000))
        else:
            base.update(kind="terminate", effective_month=str(month - rng.randint(0, 2)),
                        reason="no longer eligible (commune verification)")
        rows.append(base)
    return rows


def write_csv(path: str | Path, rows: Iterable[dict], columns: Iterable[str] = DECISION_COLUMNS) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(columns)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="raise")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
    return path


# --- the agents' side: paying the lists and reporting back ------------------------

POSTOFFICE_RESULT_COLUMNS = ("payroll_id", "line_id", "citizen_id", "status", "paid_on",
                             "amount_paid", "received_by", "at_home", "note")
BANK_RESULT_COLUMNS = ("payroll_id", "line_id", "status", "booked_on", "amount", "reason_code")


def _person_rng(seed: int, citizen_id: str, month: str) -> random.Random:
    return random.Random(f"{seed}:{citizen_id}:{month}")


def absent_months(seed: int, citizen_id: str) -> set[str]:
    """A few people stop collecting for a while (travel, illness, death not
    yet reported): a deterministic run of 1 to 4 months in 2024-2025."""
    rng = random.Random(f"{seed}:absent:{citizen_id}")
    if rng.random() >= 0.04:
        return set()
    start = Month.parse("2024-07") + rng.randrange(10)
    return {str(start + i) for i in range(rng.randint(1, 4))}


def read_payroll_csv(path: str | Path) -> list[dict]:
    with Path(path).open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


DEATH_COLUMNS = ("notice_id", "citizen_id", "date_of_death", "source", "reported_on", "document_no",
                 "funeral_arranged_by", "corrects")


@dataclass(frozen=True)
class Death:
    citizen_id: str
    date_of_death: date
    notice_month: Month  # when the notice reaches the office: usually late
    source: str


def deaths(registered: list[dict], *, seed: int, first: Month, last: Month,
           yearly_rate: float = 0.05) -> dict[str, Death]:
    """About 5 % a year die; most notices reach the office one to four months late."""
    monthly = yearly_rate / 12
    out = {}
    for reg in registered:
        rng = random.Random(f"{seed}:death:{reg['citizen_id']}")
        start = max(first, Month.parse(reg["effective_month"]))
        for month in month_range_inclusive(start, last):
            if rng.random() < monthly:
                died = month.first_day + timedelta(days=rng.randint(0, 27))
                delay = rng.choices((0, 1, 2, 3, 4), (0.15, 0.3, 0.25, 0.2, 0.1))[0]
                source = rng.choice(("civil_registry", "civil_registry", "commune", "family"))
                out[reg["citizen_id"]] = Death(reg["citizen_id"], died, month + delay, source)
                break
    return out


def month_range_inclusive(first: Month, last: Month) -> list[Month]:
    return [Month(i) for i in range(first.index, last.index + 1)]


def death_notices(known: dict[str, Death], month: Month) -> list[dict]:
    rows = []
    for death in known.values():
        if death.notice_month == month:
            reported = max(death.date_of_death, month.first_day) + timedelta(days=5)
            rows.append(dict(notice_id=f"{death.source[:2].upper()}-{death.citizen_id}",
                             citizen_id=death.citizen_id, date_of_death=death.date_of_death.isoformat(),
                             source=death.source, reported_on=reported.isoformat(),
                             document_no=f"TK-{death.citizen_id[-6:]}" if death.source == "civil_registry" else "",
                             funeral_arranged_by="Người thân"))
    return rows


def postoffice_results(payroll_rows: list[dict], month: str, *, seed: int,
                       dead: dict[str, Death] | None = None) -> list[dict]:
    """The post office's report for a month: each person collects all their
    lines at once, or none of them. After a death, a relative sometimes
    still collects as proxy before the office knows."""
    by_person: dict[str, list[dict]] = {}
    for row in payroll_rows:
        by_person.setdefault(row["citizen_id"], []).append(row)
    results = []
    first_day = Month.parse(month).first_day
    for citizen_id, rows in by_person.items():
        rng = _person_rng(seed, citizen_id, month)
        collects = month not in absent_months(seed, citizen_id) and rng.random() < 0.985
        paid_day = first_day + timedelta(days=rng.randint(9, 14))
        paid_on = paid_day.isoformat()
        by_proxy = rng.random() < 0.1
        death = (dead or {}).get(citizen_id)
        if death and death.date_of_death < paid_day and rows[0]["kind"] != "funeral_support":
            collects, by_proxy = rng.random() < 0.4, True
        for row in rows:
            results.append(dict(
                payroll_id=row["payroll_id"], line_id=row["line_id"], citizen_id=citizen_id,
                status="paid" if collects else "unpaid", paid_on=paid_on if collects else "",
                amount_paid=row["amount"] if collects else "",
                received_by=("proxy" if by_proxy else "beneficiary") if collects else "",
                at_home=row["home_delivery"] if collects else "",
                note="" if collects else "không đến nhận"))
    return results


def bank_results(payroll_rows: list[dict], month: str, *, seed: int,
                 dead: dict[str, Death] | None = None) -> list[dict]:
    """Mostly credited; a few wrong or closed accounts; after a death the
    bank sometimes learns of it first (MD07)."""
    results = []
    first_day = Month.parse(month).first_day
    for row in payroll_rows:
        rng = _person_rng(seed, row["citizen_id"], month)
        draw = rng.random()
        reason = "AC04" if draw < 0.004 else "AC01" if draw < 0.007 else "MD07" if draw < 0.009 else ""
        death = (dead or {}).get(row["citizen_id"])
        if death and death.date_of_death < first_day and row["kind"] != "funeral_support" and draw < 0.3:
            reason = "MD07"
        results.append(dict(
            payroll_id=row["payroll_id"], line_id=row["line_id"],
            status="rejected" if reason else "credited",
            booked_on=(first_day + timedelta(days=rng.randint(2, 6))).isoformat(),
            amount=row["amount"], reason_code=reason))
    return results

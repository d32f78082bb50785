"""The demo's population database check: the answer the database gives for
the district's beneficiaries (most match; some are not found, some differ
in the name's marks, the birth date or the commune, two are reported
dead), imported after a payroll; the next payroll holds the two; then the
officer confirms one death, rejects the other, and settles the rest of the
queue (a correction by decision, records accepted as they are)."""
from __future__ import annotations

import random
import unicodedata
from datetime import date, timedelta
from pathlib import Path

from ledger.months import Month

from . import synthetic
from .commands import Commands
from .population import PopulationCommands, resolution_from
from .queries import Queries

COLUMNS = ("citizen_id", "full_name", "birth_date", "sex", "status", "date_of_death", "permanent_commune",
           "checked_on")
ACTOR = "canbo"  # the demo's officer (demo.OFFICER)


def _unmarked(name: str) -> str:
    """As a system without Vietnamese marks writes it, in capitals."""
    plain = "".join(c for c in unicodedata.normalize("NFD", name) if not unicodedata.combining(c))
    return plain.replace("đ", "d").replace("Đ", "D").upper()


def answers(people: list[dict], dead: dict, *, seed: int, checked_on: date) -> tuple[list[dict], list[str]]:
    """The database's answer rows, and the two it reports dead (chosen among
    people alive in the simulation: one truly dead, one a database error)."""
    rng = random.Random(f"{seed}:population")
    rows, reported = [], []
    alive = [p for p in people if p["citizen_id"] not in dead]
    for person in people:
        row = dict(citizen_id=person["citizen_id"], full_name=person["full_name"], birth_date=person["birth_date"],
                   sex=person["sex"], status="alive", date_of_death="", permanent_commune=person["commune_code"],
                   checked_on=checked_on.isoformat())
        draw = rng.random()
        if draw < 0.04:  # wrong or missing citizen id on the ledger's side
            row.update(status="not_found", full_name="", birth_date="", sex="", permanent_commune="")
        elif draw < 0.09:
            row["full_name"] = _unmarked(person["full_name"])
        elif draw < 0.12:
            born = date.fromisoformat(person["birth_date"])
            row["birth_date"] = born.replace(day=1 if born.day != 1 else 2).isoformat()
        elif draw < 0.14:
            row["permanent_commune"] = f"{int(person['commune_code']) + 1:05d}"
        rows.append(row)
    for person in rng.sample(alive, 2):
        row = next(r for r in rows if r["citizen_id"] == person["citizen_id"])
        row.update(status="deceased", date_of_death=(checked_on - timedelta(days=40)).isoformat(),
                   full_name=person["full_name"], birth_date=person["birth_date"], sex=person["sex"],
                   permanent_commune=person["commune_code"])
        reported.append(person["citizen_id"])
    return rows, reported


def check(commands: Commands, registered: list[dict], dead: dict, month: Month, out: Path, seed: int) -> list[str]:
    """Import the answer for everyone registered by ``month`` (after its
    payroll); returns the two reported dead."""
    people = [r for r in registered if Month.parse(r["effective_month"]) <= month]
    checked_on = month.first_day + timedelta(days=19)
    rows, reported = answers(people, dead, seed=seed, checked_on=checked_on)
    # An answer for a citizen id the ledger does not have (registered elsewhere): reported, not recorded.
    rows.append(dict(rows[0], citizen_id="051099999999", full_name="Người Ngoài Sổ", status="alive"))
    path = synthetic.write_csv(out / "population" / f"dan-cu-{month}.csv", rows, COLUMNS)
    summary = PopulationCommands(commands).import_population(path, ACTOR)
    results = ", ".join(f"{k} {v}" for k, v in summary.results.items())
    print(f"\nPopulation database check ({path.name}, {summary.rows} answers): {results}; "
          f"{len(summary.not_in_ledger)} not in the ledger; held from the next payroll: {', '.join(summary.held)}")
    return reported


def review(commands: Commands, queries: Queries, reported: list[str]) -> None:
    """The officer's decisions, after the payroll that held the two."""
    population = PopulationCommands(commands)
    today = commands.runtime.today()
    print("  after the next payroll, which issued nothing to the two:")
    for citizen in reported:
        held = queries.beneficiary_report(citizen)
        print(f"  held: {citizen} ({held.full_name}), arrears owed {held.arrears_due:,} VND")
    confirmed = population.resolve(resolution_from(
        reported[0], "deceased", "UBND xã xác nhận qua trích lục khai tử", today), ACTOR)
    rejected = population.resolve(resolution_from(
        reported[1], "rejected", "cán bộ xã gặp trực tiếp: đối tượng còn sống; CSDL ghi nhầm", today), ACTOR)
    print(f"  confirmed dead: {reported[0]} (a death notice from population_db; funeral support "
          f"{confirmed.consequences['funeral_support_vnd']:,} VND; overpayment "
          f"{confirmed.consequences['overpayment_change_vnd']:,} VND to recover)")
    print(f"  rejected: {reported[1]}, hold lifted: the held months are paid as arrears on the next payroll")
    corrected = matched = 0
    for item in queries.population_queue():
        if item.awaiting != "differs":
            continue  # the not found stay for the commune to look into
        if item.differences == ("birth_date",) and corrected < 3:
            corrected += 1
            population.resolve(resolution_from(
                item.citizen_id, "corrected", "ngày sinh theo CSDL dân cư (giấy khai sinh gốc)", today,
                decision_no=f"{200 + corrected}/QĐ-UBND",
                birth_date=date.fromisoformat(item.population_db["birth_date"])), ACTOR)
        elif item.differences == ("full_name_diacritics",) and matched < 3:
            matched += 1
            population.resolve(resolution_from(
                item.citizen_id, "matched", "họ tên trong sổ đúng; CSDL ghi không dấu", today), ACTOR)
    left = queries.population_queue()
    print(f"  reviewed: {corrected} birth dates corrected by decision, {matched} names accepted as recorded; "
          f"{len(left)} still awaiting review (not found: the communes look into them)")


def rates(queries: Queries) -> None:
    rows = queries.population_rates()
    print("\nMatch rate per commune (latest check): commune  checked  matched  rate  not found  differs  deceased")
    for row in rows:
        name = "district" if row.level == "district" else row.area
        print(f"  {name:<8} {row.checked:>6} {row.matched:>8} {100 * row.match_rate:>6.1f} % {row.not_found:>6} "
              f"{row.differs:>8} {row.deceased:>8}")

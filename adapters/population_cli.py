"""The ``ledger`` commands of the population database check:
``import population FILE``, ``population queue``, ``population resolve`` and
``population rates`` (wired into the parser by adapters/cli.py)."""
from __future__ import annotations

import argparse
from datetime import date

from ledger import population as pop

from .commands import Commands
from .population import QUEUE_STATUSES, PopulationCommands, resolution_from
from .queries import Queries


def _import_human(d: dict) -> str:
    text = (f"{d['file']}: {d['rows']} rows, {d['recorded_events']} events recorded, "
            f"{d['unchanged_rows']} rows already recorded")
    if d["results"]:
        text += "\nchecked now: " + ", ".join(f"{k} {v}" for k, v in d["results"].items())
    for citizen in d["held"]:
        text += f"\nHELD from the next payroll (reported deceased, awaiting review): {citizen}"
    for row in d["not_in_ledger"]:
        text += f"\n{d['file']}:{row['line']}: {row['citizen_id']} is not in the ledger: not recorded"
    return text


def cmd_import_population(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    from .cli import _importing

    _importing(lambda **o: PopulationCommands(commands).import_population(args.file, args.actor, **o), args,
               _import_human)


def _queue_human(rows: list[dict]) -> str:
    from .cli import _table

    body = _table([(r["citizen_id"], r["commune_code"], r["status"] + (" (held)" if r["held"] else ""),
                    r["checked_on"], ", ".join(r["differences"]), r["full_name"],
                    r["population_db"]["full_name"]) for r in rows],
                  ("citizen_id", "commune", "awaiting", "checked_on", "differs in", "ledger name", "database name"))
    return f"{body}\n{len(rows)} awaiting review"


def cmd_population_queue(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    from .cli import _emit

    rows = queries.population_queue(args.status or (), args.commune)
    _emit(args, [r.as_dict() for r in rows], _queue_human)


def _resolve_human(d: dict) -> str:
    if not d["changed"]:
        return f"{d['citizen_id']}: resolved as {d['resolved_as']} before; nothing recorded"
    text = f"{d['citizen_id']}: resolved as {d['resolved_as']}, {d['recorded_events']} events recorded"
    if d["lines_cancelled"]:
        text += f"; lines cancelled: {', '.join(d['lines_cancelled'])} ({d['cancelled_vnd']} VND returned)"
    if d["overpayment_change_vnd"]:
        text += f"; overpayment changed by {d['overpayment_change_vnd']} VND"
    if d["funeral_support_vnd"]:
        text += f"; funeral support of {d['funeral_support_vnd']} VND due on the next payroll"
    return text


def cmd_population_resolve(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    from .cli import _emit

    resolution = resolution_from(
        args.citizen_id, args.resolved_as, args.reason, commands.runtime.today(), decision_no=args.decision_no,
        full_name=args.full_name, birth_date=args.birth_date, sex=args.sex or "",
        population_citizen_id=args.population_citizen_id, date_of_death=args.date_of_death)
    _emit(args, PopulationCommands(commands).resolve(resolution, args.actor).as_dict(), _resolve_human)


def _rates_human(rows: list[dict]) -> str:
    from .cli import _table

    return _table([(r["level"], r["area"], r["checked"], r["matched"], f"{100 * r['match_rate']:.1f} %",
                    r["not_found"], r["differs"], r["deceased"]) for r in rows],
                  ("level", "area", "checked", "matched", "rate", "not found", "differs", "deceased"))


def cmd_population_rates(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    from .cli import _emit

    _emit(args, [r.as_dict() for r in queries.population_rates()], _rates_human)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a date YYYY-MM-DD") from None


def _sex(text: str) -> str:
    if text not in ("M", "F"):
        raise argparse.ArgumentTypeError("M or F")
    return text


def add_import(imports, command) -> None:
    command("population", cmd_import_population,
            "record the population database's answer: results, mismatches queued, reported deaths held",
            parent=imports).add_argument("file")


def add_commands(sub, command) -> None:
    group = sub.add_parser("population", help="the population database check").add_subparsers(
        dest="what", required=True)
    p = command("queue", cmd_population_queue, "people awaiting review after the population database check",
                parent=group)
    p.add_argument("--status", action="append", choices=QUEUE_STATUSES,
                   help="only these (repeatable): deceased, not_found, differs")
    p.add_argument("--commune", help="only this commune code")
    p = command("resolve", cmd_population_resolve, "the officer's decision on a person's review", parent=group)
    p.add_argument("citizen_id")
    p.add_argument("--as", dest="resolved_as", required=True, choices=pop.RESOLUTIONS,
                   help="matched: the record is right; corrected: a decision corrects it (--decision-no and "
                        "what is corrected); deceased: the death is confirmed (a death notice from "
                        "population_db); rejected: the reported death is not so (the hold is lifted)")
    p.add_argument("--reason", required=True)
    p.add_argument("--decision-no", default="", help="the decision's number (required for corrected)")
    p.add_argument("--full-name", default="", help="corrected: the name as it should be")
    p.add_argument("--birth-date", type=_date, help="corrected: the birth date as it should be")
    p.add_argument("--sex", type=_sex, help="corrected: M or F")
    p.add_argument("--citizen-id", dest="population_citizen_id", default="",
                   help="corrected: the citizen id the population database knows the person by")
    p.add_argument("--date-of-death", type=_date, help="deceased: the date, if not the one the database gave")
    command("rates", cmd_population_rates, "the match rate per commune and for the district", parent=group)


RECORDING = (cmd_import_population, cmd_population_resolve)

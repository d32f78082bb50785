"""The ``ledger`` commands for payments into proxies' accounts and the
figures offices report: ``import confirmations``, ``proxy queue``,
``report cashless`` and ``report trend`` (wired into adapters/cli.py)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .formats import office_workbooks
from .commands import Commands
from .errors import CommandRefused
from .queries import Queries


MAX_MONTHS = 120  # ten years: a bound on one report's rows


def _cli():
    from . import cli  # the shared formatting helpers; imported late (cli imports this module)

    return cli


def cmd_import_confirmations(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    cli = _cli()
    cli._importing(lambda **o: commands.import_confirmations(args.file, args.actor, **o), args, cli._import_human)


def cmd_proxy_queue(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    cli = _cli()
    month = args.month or commands.runtime.this_month()
    rows = [e.as_dict() for e in queries.proxy_queue(month)]
    cli._emit(args, rows, lambda rows: cli._table(
        [(r["citizen_id"], r["full_name"], r["proxy_name"], r["bank_account"], r["commune_code"],
          ",".join(r["months"]), cli._vnd(r["amount"]), r["months_waiting"]) for r in rows],
        ("citizen_id", "name", "proxy", "proxy account", "commune", "unconfirmed months", "amount", "waiting"))
        + f"\n{len(rows)} people paid into a proxy's account without a confirmation for 2 months or more "
          f"(as of {month})")


def _percent(share: float) -> str:
    return f"{share * 100:.1f} %"


def cmd_report_cashless(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    cli = _cli()
    _check_range(args)
    report = queries.cashless_report(args.month_from, args.month_to)
    written = _write(args, lambda out: office_workbooks.write_cashless(out, report))

    def human(d: dict) -> str:
        rows = []
        for m in d["months"]:
            for code, f in [("district", m["district"])] + [(c["commune_code"], c) for c in m["communes"]]:
                rows.append((m["month"], code, f["people_bank"], f["people_paid"], _percent(f["share_people"]),
                             cli._vnd(f["bank_vnd"]), cli._vnd(f["paid_vnd"]), _percent(f["share_amount"])))
        return cli._table(rows, ("month", "commune", "by bank", "paid", "share", "by bank (VND)", "paid (VND)",
                                 "share (VND)")) + "".join(f"\nwritten: {p}" for p in written)

    cli._emit(args, report.as_dict(), human)


def cmd_report_trend(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    cli = _cli()
    _check_range(args)
    report = queries.trend_report(args.month_from, args.month_to)
    cashless = queries.cashless_report(args.month_from, args.month_to) if args.out else None
    written = _write(args, lambda out: office_workbooks.write_trend(out, report, cashless))

    def human(d: dict) -> str:
        rows = [(m["month"], m["unclaimed_people"], cli._vnd(m["unclaimed_amount"]), m["deaths_noticed"],
                 m["deaths_late"], m["months_late_max"], cli._vnd(m["overpayments_opened"]),
                 cli._vnd(m["recovered"]), cli._vnd(m["written_off"])) for m in d["months"]]
        text = cli._table(rows, ("month", "unclaimed", "unclaimed (VND)", "deaths noticed", "late",
                                 "most months late", "overpaid", "recovered", "written off"))
        agents = [(m["month"], a["agent_code"], cli._vnd(a["advance"]), cli._vnd(a["disbursed"]),
                   cli._vnd(a["returned"]), cli._vnd(a["fee"])) for m in d["months"] for a in m["agents"]]
        if agents:
            text += "\n\n" + cli._table(agents, ("month", "agent", "advance", "disbursed", "returned", "fee"))
        return text + "".join(f"\nwritten: {p}" for p in written)

    cli._emit(args, report.as_dict(), human)


def _write(args: argparse.Namespace, write) -> list[Path]:
    return [write(Path(args.out))] if args.out else []


def _check_range(args: argparse.Namespace) -> None:
    if args.month_to < args.month_from:
        raise CommandRefused(f"--to {args.month_to} is before --from {args.month_from}")
    if args.month_from.months_until(args.month_to) >= MAX_MONTHS:
        raise CommandRefused(f"at most {MAX_MONTHS} months at once")


def add_commands(sub, imports, command, month_type) -> None:
    """The parsers of these commands, beside the others."""
    command("confirmations", cmd_import_confirmations,
            "record the communes' confirmations that proxy-account payments reached the person",
            parent=imports).add_argument("file")

    proxy = sub.add_parser("proxy", help="payments into proxies' accounts").add_subparsers(
        dest="what", required=True)
    p = command("queue", cmd_proxy_queue,
                "people paid into a proxy's account without a confirmation for 2 months or more", parent=proxy)
    p.add_argument("--month", type=month_type, help="as of this month (default: this month)")

    report = sub.add_parser("report", help="the figures offices report").add_subparsers(dest="what", required=True)
    for name, handler, text in (
            ("cashless", cmd_report_cashless, "the share paid without cash, per commune and month "
                                              "(people and amounts)"),
            ("trend", cmd_report_trend, "month by month: unclaimed, deaths noticed late, overpayments, "
                                        "settlement per agent")):
        p = command(name, handler, text, parent=report)
        p.add_argument("--from", dest="month_from", type=month_type, required=True)
        p.add_argument("--to", dest="month_to", type=month_type, required=True)
        p.add_argument("--out", help="also write the figures as an XLSX workbook with charts into this folder")


RECORDING = (cmd_import_confirmations,)

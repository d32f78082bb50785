"""The ``ledger`` command: the surface payment officers, auditors and
acceptance tests script against (names and JSON keys as in cli.md)."""
from __future__ import annotations

if __name__ == "__main__":  # run as ``python -m adapters.cli``: quiet Ctrl-C while loading
    from adapters.startup import interrupt_quietly

    interrupt_quietly()

import argparse
import json
import logging
import os
import sys
from importlib import metadata
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from babel.numbers import format_decimal

from ledger import outcomes
from ledger.months import Month

from . import population_cli
from .bootstrap import open_runtime
from . import cli_office
from .commands import Commands
from .errors import (EXIT_CODES_HELP, EXIT_INTERRUPTED, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, CommandRefused,
                     explain)
from .national import cli as national_cli
from .programs import run_demo_command, run_keygen
from .queries import Queries
from .settings import DEFAULT_FILE, LedgerSettings
from .closing import after_close
from .startup import interrupted, started
from .tabular import InputRejected, reading_options


class CommandError(CommandRefused):
    """A refusal worded by the command line (exit code 1)."""


def _version() -> str:
    try:
        return metadata.version("allowance-ledger")
    except metadata.PackageNotFoundError:  # run from a checkout that was not installed
        return "unknown"


def _month(text: str) -> Month:
    try:
        return Month.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected an ISO date-time: {exc}") from None
    if moment.tzinfo is None:  # recorded times are UTC
        moment = moment.replace(tzinfo=timezone.utc)
    if len(text) == 10:  # a plain date: as known at the end of that day
        moment = moment + timedelta(days=1) - timedelta(microseconds=1)
    return moment


def _delimiter(text: str) -> str:
    text = {"tab": "\t", "\\t": "\t"}.get(text, text)
    if len(text) != 1:
        raise argparse.ArgumentTypeError("one character, e.g. ';' (or 'tab')")
    return text


def _encoding(text: str) -> str:
    import codecs

    try:
        return codecs.lookup(text).name
    except LookupError:
        raise argparse.ArgumentTypeError(f"unknown encoding {text!r} (e.g. cp1258)") from None


def _emit(args: argparse.Namespace, data: Any, human: Callable[[Any], str]) -> None:
    if getattr(args, "json", False):
        json.dump(data, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(human(data) + "\n")


def _vnd(amount: int) -> str:
    """Money the Vietnamese way in text output (JSON keeps plain integers)."""
    return f"{format_decimal(amount, locale='vi_VN')} ₫"


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --- commands ----------------------------------------------------------------------
# Each handler takes the commands, the queries and the parsed arguments; it
# calls one of them and words the typed answer (``as_dict()``: cli.md keys).

def cmd_init(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    _emit(args, commands.init().as_dict(),
          lambda d: f"stores ready on {d['database']} ({d['events']} events recorded)")


def _import_human(d: dict) -> str:
    return (f"{d['file']}: {d['rows']} rows, {d['recorded_events']} events recorded, "
            f"{d['unchanged_rows']} rows already recorded")


def _dry_run_human(d: dict) -> str:
    lines = [f"DRY RUN, nothing recorded: {d['file']} (SHA-256 {d['sha256']}) would record "
             f"{sum(d['events'].values())} events for {d['people']} people"]
    lines += [f"  {name}: {count}" for name, count in d["events"].items()]
    if d["money"]:
        lines.append("money: " + "; ".join(f"{kind} {_vnd(amount)}" for kind, amount in d["money"].items()))
    return "\n".join(lines)


def _importing(run: Callable[..., Any], args: argparse.Namespace, human: Callable[[dict], str]) -> None:
    """An import, or with --dry-run what it would record (nothing is)."""
    if getattr(args, "dry_run", False):
        _emit(args, run(dry_run=True).as_dict(), _dry_run_human)
    else:
        _emit(args, run().as_dict(), human)


def cmd_import_decisions(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    _importing(lambda **o: commands.import_decisions(args.file, args.actor, **o), args,
               lambda d: _import_human(d) + "\n" + outcomes.describe_decisions(d))


def _show_human(d: dict) -> str:
    head = (f"{d['citizen_id']}  {d['full_name']}  born {d['birth_date']}\n"
            f"status {d['status']}; categories {', '.join(d['categories'])}; "
            f"monthly {_vnd(d['monthly_amount'])}; {d['channel']} via {d['agent_code']}")
    rows = [(m["month"], _vnd(m["due"]), m["status"], ";".join(m["categories"]),
             _vnd(m["issued"]), _vnd(m["disbursed"]), _vnd(m["unclaimed"]), _vnd(m["cancelled"]))
            for m in d["months"]]
    return head + "\n" + _table(rows, ("month", "due", "status", "paying", "issued",
                                       "disbursed", "unclaimed", "cancelled"))


def cmd_beneficiary_show(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    _emit(args, queries.beneficiary_report(args.citizen_id, args.as_known_at).as_dict(), _show_human)


def _entitlements_human(rows: list[dict]) -> str:
    total = sum(r["amount"] for r in rows)
    body = _table([(r["citizen_id"], r["status"], ";".join(r["categories"]), _vnd(r["amount"]),
                    r["channel"], r["agent_code"]) for r in rows],
                  ("citizen_id", "status", "categories", "amount", "channel", "agent"))
    return f"{body}\n{len(rows)} people, {_vnd(total)} due"


def cmd_entitlements(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    _emit(args, [e.as_dict() for e in queries.entitlements(args.month)], _entitlements_human)


def _issued_human(d: dict) -> str:
    return (f"payroll {d['month']}: {d['lines']} new lines, {_vnd(d['amount'])} advanced; "
            f"{d['carried_lines']} lines ({_vnd(d['carried_amount'])}) carried forward"
            + ("" if d["issued_now"] else " (issued before: nothing new, files rewritten)")
            + (f"; prepared by {d['prepared_by']}, released by {d['released_by']}" if d.get("released_by") else "")
            + "".join(f"\n  {f}" for f in d["files"]))


def cmd_payroll_run(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    summary = commands.run_payroll(args.month, args.out, args.actor, four_eyes=args.four_eyes)
    _emit(args, summary.as_dict(), _issued_human)


def _prepared_human(d: dict) -> str:
    if d["released"]:
        return f"payroll {d['month']} was released before: nothing to prepare"
    head = (f"payroll {d['month']} preparation {d['preparation']} by {d['prepared_by']}"
            + ("" if d["prepared_now"] else " (unchanged: nothing recorded)")
            + f": {d['lines']} lines, {_vnd(d['amount'])} ({d['arrears_lines']} with arrears, "
              f"{_vnd(d['arrears_amount'])}); {d['carried_lines']} lines ({_vnd(d['carried_amount'])}) carried forward;"
              f" nothing issued until another person releases it (digest {d['digest'][:16]})")
    rows = [(a["agent_code"], a["channel"], a["lines"], _vnd(a["amount"]), a["arrears_lines"],
             _vnd(a["arrears_amount"]), a["carried_lines"], _vnd(a["carried_amount"])) for a in d["agents"]]
    return head + "\n" + _table(rows, ("agent", "channel", "lines", "amount", "arrears lines", "arrears",
                                       "carried lines", "carried"))


def cmd_payroll_prepare(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    _emit(args, commands.prepare_payroll(args.month, args.actor).as_dict(), _prepared_human)


def cmd_payroll_release(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    summary = commands.release_payroll(args.month, args.out, args.actor, four_eyes=args.four_eyes,
                                       preparation=args.preparation)
    _emit(args, summary.as_dict(), _issued_human)


def _results_human(d: dict) -> str:
    text = (f"{d['file']}: {d['rows']} rows, {d['recorded_events']} recorded, "
            f"{d['unchanged_rows']} already recorded")
    if d["suspended"]:
        text += f"\nsuspended for unclaimed months: {', '.join(d['suspended'])}"
    for flag in d["paid_after_death"]:
        text += f"\nFLAG paid after the date of death: {flag['citizen_id']} line {flag['line_id']}"
    for entry in d.get("ignored_entries", []):
        text += f"\nignored: {entry}"
    return text


def cmd_import_deaths(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    _importing(lambda **o: commands.import_deaths(args.file, args.actor, **o), args, lambda d: "\n".join(
        [_import_human(d), *map(outcomes.describe_notice, d["notices"])]))


def cmd_import_recoveries(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    _importing(lambda **o: commands.import_recoveries(args.file, args.actor, four_eyes=args.four_eyes, **o),
               args, _import_human)


def cmd_import_history(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    _emit(args, [r.as_dict() for r in queries.import_history()], lambda rows: _table(
        [(r["recorded_at"][:19], r["actor"], r["kind"], r["file_name"], r["sha256"][:16], r["people"],
          r["recorded_events"]) for r in rows],
        ("recorded at", "by", "kind", "file", "sha-256", "people", "events")) + f"\n{len(rows)} imports")


def _write_off_human(d: dict) -> str:
    state = d["status"] if d["recorded_now"] else f"{d['status']} before: nothing recorded"
    names = f"proposed by {d['proposed_by']}" + (f", {d['status']} by {d['decided_by']}" if d["decided_by"] else "")
    return f"write-off {d['receipt_no']} of {d['citizen_id']} ({_vnd(d['amount'])}): {state}; {names}"


def cmd_write_off_propose(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    _emit(args, commands.propose_write_off(args.citizen_id, args.amount, args.decision, args.reason, args.actor,
                                           args.receipt).as_dict(), _write_off_human)


def cmd_write_off_approve(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    # A proposal is decided by someone else, whatever four_eyes says: without
    # four eyes a write-off is simply recorded (ledger import recoveries).
    _emit(args, commands.decide_write_off(args.citizen_id, args.receipt_no, args.actor, approve=True,
                                          four_eyes=True).as_dict(), _write_off_human)


def cmd_write_off_reject(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    _emit(args, commands.decide_write_off(args.citizen_id, args.receipt_no, args.actor, approve=False,
                                          reason=args.reason, four_eyes=True).as_dict(), _write_off_human)


def cmd_write_off_list(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    _emit(args, [w.as_dict() for w in queries.write_offs(args.status)], lambda rows: _table(
        [(r["citizen_id"], r["receipt_no"], r["decision_no"], _vnd(r["amount"]), r["status"], r["proposed_by"],
          r["decided_by"], r["reason"]) for r in rows],
        ("citizen_id", "receipt", "decision", "amount", "status", "proposed by", "decided by", "reason")))


def cmd_recoveries(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    _emit(args, [r.as_dict() for r in queries.recoveries()], lambda rows: _table(
        [(r["citizen_id"], ",".join(r["months"]), _vnd(r["amount"]), _vnd(r["recovered"]), _vnd(r["open"]),
          r["status"], ",".join(r["received_by"])) for r in rows],
        ("citizen_id", "months", "overpaid", "recovered", "open", "status", "received by"))
        + f"\n{_vnd(sum(r['open'] for r in rows))} open in {sum(1 for r in rows if r['open'])} overpayments")


def cmd_import_postoffice(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    _importing(lambda **o: commands.import_postoffice(args.file, args.actor, args.report, **o), args,
               _results_human)


def cmd_import_bank(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    _importing(lambda **o: commands.import_bank(args.file, args.actor, args.report, **o), args, _results_human)


def _settlement_human(rows: list[dict]) -> str:
    out = []
    for r in rows:
        reported = "not reported" if r["reported_balance"] is None else f"reported {_vnd(r['reported_balance'])}"
        out.append(f"{r['agent_code']} {r['month']}{' (closed)' if r['closed'] else ''}: "
                   f"opening {_vnd(r['opening_balance'])} + advance {_vnd(r['advance'])} - disbursed "
                   f"{_vnd(r['disbursed'])} - fee {_vnd(r['fee'])} - returned {_vnd(r['returned'])} = closing "
                   f"{_vnd(r['closing_balance'])} ({reported})")
        for v in r["variances"]:
            out.append(f"  VARIANCE {v['kind']} {v['line_id'] or '-'} {v['citizen_id'] or ''} "
                       f"{_vnd(v['amount'])}: {v['detail']}"
                       + (f" (accepted by {v['accepted']['actor']}: {v['accepted']['reason']})"
                          if v.get("accepted") else ""))
    variances = sum(len(r["variances"]) for r in rows)
    return "\n".join(out + [f"{len(rows)} agents, {variances} variances"])


def cmd_settlement_reconcile(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    rows = [s.as_dict() for s in queries.reconcile(args.month, args.agent, args.results or ())]
    _emit(args, rows, _settlement_human)


def cmd_settlement_report(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    from .formats.settlement_report import write_settlement_reports

    paths = write_settlement_reports(Path(args.out), queries.district_summary(args.month))
    _emit(args, {"month": str(args.month), "files": [str(p) for p in paths]},
          lambda d: "\n".join(d["files"]))


def cmd_settlement_close(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    acceptances = {}
    for text in args.accept or ():
        key, _, reason = text.partition("=")
        if not reason.strip():
            raise CommandError(f"--accept {text!r}: give AGENT/KIND/LINE_ID=REASON")
        acceptances[key.strip()] = reason.strip()
    missing = commands.close_month(args.month, acceptances, args.actor, four_eyes=args.four_eyes,
                                   on_view_differs=lambda differs: print(_view_differs_words(args.month, differs),
                                                                         file=sys.stderr))
    if missing:
        lines = "\n".join(f"  {key}" for key in missing)
        raise CommandError(f"{args.month} not closed: {len(missing)} unexplained variance(s); accept each "
                           f"with --accept KEY=REASON (and --actor):\n{lines}")
    done = after_close(queries, args.settings, args.month,
                       args.checkpoint_out or args.settings.checkpoint_dir)
    checkpoint, published = done.checkpoint, done.published
    _emit(args, {"month": str(args.month), "closed": True, **done.as_dict()},
          lambda d: f"{d['month']} closed" + (f"; signed checkpoint in {checkpoint}" if checkpoint else
                                              "; no checkpoint written: no signing key (signing_key_file)")
          + ("" if published is None else f"; published for province {published['province']}"
             if published["published"] else f"; NOT PUBLISHED: {published['reason']} (then run "
                                            "`ledger national publish --month M`)"))


def _view_differs_words(month: Month, differs: list) -> str:
    """The warning of a close whose books differ from the settlement the views show."""
    listed = "".join(f"\n  {difference}" for difference in differs)
    return (f"warning: {month}: the settlement the views show differs from the books (the events), "
            f"which are what the close takes; a view was altered: run `ledger replay` to see which:{listed}")


def cmd_unclaimed(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    _emit(args, [q.as_dict() for q in queries.unclaimed(args.month)], lambda rows: _table(
        [(r["agent_code"], r["commune_code"], r["citizen_id"], r["consecutive_months"],
          _vnd(r["amount"]), r["flag"]) for r in rows],
        ("agent", "commune", "citizen_id", "months", "held (₫)", "flag")) + f"\n{len(rows)} people")


def cmd_rules_whatif(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    from ledger.whatif import with_level

    from .rulefiles import load_ruleset

    current = queries.runtime.rules
    candidate = load_ruleset(args.rules) if args.rules else with_level(current, args.level, args.month_from)
    last = args.month_to or args.month_from + 11
    result = queries.whatif(candidate, args.month_from, last).as_dict()
    _emit(args, result, lambda d: (
        f"{d['from']} to {d['to']}, {d['people']} people: current rules {_vnd(d['baseline_total'])}, "
        f"candidate {_vnd(d['candidate_total'])}, difference {'+' if d['difference'] >= 0 else '-'}{_vnd(abs(d['difference']))}; "
        f"{len({c['citizen_id'] for c in d['changed']})} people in {len(d['changed'])} months change"
        + "".join(f"\n  {c['citizen_id']} {c['month']}: {_vnd(c['baseline'])} -> {_vnd(c['candidate'])}"
                  for c in d["changed"][:20])))


def cmd_audit_timeline(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    rows = [e.as_dict() for e in queries.timeline(args.citizen_id)]
    _emit(args, rows, lambda rows: _table(
        [(r["position"], r["recorded_at"][:19], r["effective"], r["type"], r["actor"], r["basis"],
          "" if r["amount"] is None else _vnd(r["amount"]), r["detail"]) for r in rows],
        ("position", "recorded at", "effective", "event", "actor", "basis", "₫", "detail")))


def cmd_audit_verify(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    from .checkpoints import check_against, load_signing_key, public_hex

    verdict = queries.verify()
    runtime = queries.runtime
    own_key = public_hex(load_signing_key(runtime.signing_key_file)) if runtime.signing_key_file else None
    against = [check_against(runtime, file, own_key) for file in args.against or ()]
    position, digest = runtime.chain.head()
    bad = [p for p in [verdict.first_bad_position, *(a.position for a in against if not a.ok)] if p is not None]
    ok = verdict.ok and all(a.ok for a in against)
    data = dict(verdict.as_dict(), ok=ok, head={"position": position, "hash": digest},
                first_bad=min(bad) if bad else None, against=[a.as_dict() for a in against])

    def human(d: dict) -> str:
        if verdict.ok:
            lines = [f"history intact: {d['checked']} events match their seals; {d['snapshots_checked']} "
                     f"snapshots are the fold of their events; head at position {position}: {digest}"]
        elif d["first_bad_snapshot"]:
            lines = [f"HISTORY ALTERED: the snapshot of aggregate {d['first_bad_snapshot']}: {d['problem']}"]
        else:
            lines = [f"HISTORY ALTERED at position {d['first_bad_position']}: {d['problem']}"]
        for a in d["against"]:
            lines.append(f"{a['file']}: the history extends this checkpoint" if a["ok"] else
                         f"{a['file']}: HISTORY ALTERED"
                         + (f" at position {a['position']}" if a["position"] is not None else "")
                         + f": {a['problem']}")
        return "\n".join(lines)

    _emit(args, data, human)
    if not ok:
        raise SystemExit(2)


def cmd_audit_checkpoint(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    from .checkpoints import load_signing_key, make_checkpoint, write_checkpoint

    checkpoint = make_checkpoint(queries.runtime, load_signing_key(queries.runtime.signing_key_file))
    if args.out:
        write_checkpoint(checkpoint, Path(args.out))
        print(f"checkpoint at position {checkpoint['position']} ({checkpoint['events']} events): "
              f"{checkpoint['hash']}, signed, in {args.out}")
    else:
        json.dump(checkpoint, sys.stdout, indent=1)
        sys.stdout.write("\n")


def cmd_audit_seal(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    summary = commands.seal_existing(args.actor).as_dict()
    _emit(args, summary, lambda d: (
        f"sealed {d['sealed']} events stored before the hash chain (positions {d['first_position']} to "
        f"{d['last_position']}), by {args.actor}; {d['rechained']} later seals chained on from them; "
        if d["sealed"] else "nothing to seal: every stored event has its seal; ")
        + f"head at position {d['head']['position']}: {d['head']['hash']}")


def cmd_audit_export(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    from .event_log import export_bundle

    bundle = export_bundle(queries.runtime, Path(args.out))
    _emit(args, bundle.as_dict(), lambda d: (
        f"{d['events']} events up to position {d['head']['position']} ({d['head']['hash']}) in {d['path']}"
        + (", with a signed checkpoint" if d["signed"] else f"; {d['note']}")))


def cmd_replay(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    """Rebuild every projection from the event log into a separate store and
    compare with the live views; or, as known at a time, into its own file."""
    import tempfile

    if args.as_known_at is not None:
        stamp = args.as_known_at.strftime("%Y%m%dT%H%M%S")
        into = args.into or f"ledger-as-known-at-{stamp}.db"
        Path(into).unlink(missing_ok=True)
        rebuilt = queries.as_known_at(f"sqlite:///{into}", into, args.as_known_at)
        _emit(args, rebuilt.as_dict(), lambda d: f"the views as known at {d['as_known_at']} are in {d['into']} "
                                                 f"({d['events']} events read)")
        return
    with tempfile.TemporaryDirectory() as folder:
        into = args.into or str(Path(folder) / "replay.db")
        check = queries.replay_check(f"sqlite:///{into}")
    _emit(args, check.as_dict(), lambda d: "\n".join(
        [f"rebuilt from {d['events']} events:"] +
        [f"  {p['name']:<14} {p['checksum'][:16]}  {'matches the live view' if p['matches'] else 'DIFFERS from the live view'}"
         for p in d["projections"]]))
    if not check.matches:
        raise SystemExit(3)


def _users(queries: Queries):
    from .web.users import UserStore

    return UserStore(queries.runtime.engine)


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        raise CommandError("the two passwords differ")
    return first


def cmd_user_add(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    from .web.users import UserRefused

    try:
        user = _users(queries).add(args.name, args.role, _read_password(args))
    except UserRefused as exc:
        raise CommandError(str(exc)) from None
    _emit(args, user.as_dict(), lambda d: f"user {d['name']} added ({d['role']})")


def cmd_user_list(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    _emit(args, [u.as_dict() for u in _users(queries).list()], lambda rows: _table(
        [(r["name"], r["role"], "disabled" if r["disabled"] else "active", r["locked_until"] or "",
          r["created_at"][:19]) for r in rows], ("name", "role", "state", "locked until", "created")))


def cmd_user_disable(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    from .web.users import UserRefused

    try:
        user = _users(queries).disable(args.name)
    except UserRefused as exc:
        raise CommandError(str(exc)) from None
    _emit(args, user.as_dict(), lambda d: f"user {d['name']} disabled")


SERVE_HELP = """\
The web application for payment officers, approvers and auditors, on the
configured store. It listens on loopback (127.0.0.1) unless told otherwise.
To reach it from other machines, keep it on loopback and put it behind a
TLS reverse proxy (nginx, Caddy, Apache) that forwards https://... to
http://127.0.0.1:PORT, and set web_secure_cookies = true (LEDGER_WEB_SECURE_COOKIES=1)
so the session cookie is only sent over HTTPS. Never expose it on plain HTTP.
Users: `ledger user add NAME --role ROLE`."""


def cmd_serve(commands: Commands, queries: Queries, args: argparse.Namespace) -> None:
    import uvicorn

    from .web.app import create_app

    app = create_app(queries.runtime, args.settings)
    print(f"serving on http://{args.host}:{args.port}/ (Ctrl-C stops)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", proxy_headers=True)


# --- parser --------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """Usage errors exit 64 (EX_USAGE): argparse's own 2 would read as
    `audit verify`'s "history altered"."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ledger", description=__doc__, epilog=EXIT_CODES_HELP,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--db", help="database URL (default: the settings' database_url, "
                                     "$LEDGER_DATABASE_URL, or sqlite:///ledger.db)")
    parser.add_argument("--actor", help="the acting person, recorded on every event "
                                        "(default: the settings' actor, $LEDGER_ACTOR)")
    parser.add_argument("--config", help=f"settings file (default: ./{DEFAULT_FILE} if present)")
    parser.add_argument("--wait", type=float, metavar="SECONDS",
                        help="how long a recording command waits while another one records on the same "
                             "store, before it gives up with exit 75 (default: 60; reading commands never wait)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens, on stderr")
    parser.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        help="the logging level (default: WARNING; -v: INFO)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, handler, help_text: str, parent=sub, json_flag: bool = True):
        p = parent.add_parser(name, help=help_text, description=help_text)
        if json_flag:
            p.add_argument("--json", action="store_true", help="machine output on stdout")
        p.set_defaults(handler=handler)
        return p

    command("init", cmd_init, "create the stores (running it again changes nothing)")

    imports = sub.add_parser("import", help="record a partner file").add_subparsers(dest="what", required=True)
    command("decisions", cmd_import_decisions, "record beneficiary decisions (CSV or XLSX)",
            parent=imports).add_argument("file")

    for name, handler, text in (("postoffice", cmd_import_postoffice, "record a post office's paid / unpaid lines"),
                                ("bank", cmd_import_bank, "record a bank's results (CSV or camt.054 XML)")):
        p = command(name, handler, text, parent=imports)
        p.add_argument("file")
        p.add_argument("--report", help="the agent's monthly summary (agent-report.csv), recorded with it")

    settle = sub.add_parser("settlement", help="the monthly settlement with each agent").add_subparsers(
        dest="what", required=True)
    p = command("reconcile", cmd_settlement_reconcile, "each agent's settlement for a month, with variances",
                parent=settle)
    p.add_argument("--month", type=_month, required=True)
    p.add_argument("--agent")
    p.add_argument("--results", action="append", help="an agent's result file to check (not recorded)")
    p = command("report", cmd_settlement_report, "the settlement and district summary as XLSX, PDF and charts",
                parent=settle)
    p.add_argument("--month", type=_month, required=True)
    p.add_argument("--out", required=True, help="folder for the reports")
    p = command("close", cmd_settlement_close, "close a month once every variance is explained", parent=settle)
    p.add_argument("--month", type=_month, required=True)
    p.add_argument("--accept", action="append", metavar="AGENT/KIND/LINE_ID=REASON",
                   help="accept a variance, with the reason (repeatable)")
    p.add_argument("--checkpoint-out", metavar="DIR",
                   help="folder for the signed checkpoint written after the close (default: the "
                        "checkpoint_dir setting, ./checkpoints)")

    command("deaths", cmd_import_deaths, "record death notices and their consequences",
            parent=imports).add_argument("file")
    command("recoveries", cmd_import_recoveries, "record repayments, offsets and write-offs of overpayments",
            parent=imports).add_argument("file")
    cli_office.add_commands(sub, imports, command, _month)
    population_cli.add_import(imports, command)
    for p in imports.choices.values():  # CSV as offices save it
        p.add_argument("--delimiter", type=_delimiter,
                       help="the CSV separator (default: found from the header line: , ; or tab)")
        p.add_argument("--encoding", type=_encoding,
                       help="the CSV encoding when not UTF-8 or UTF-16, e.g. cp1258")
        p.add_argument("--dry-run", action="store_true",
                       help="show what the import would record (people, events, money) and record nothing")
    command("history", cmd_import_history, "the files imported: name, SHA-256, who, when, what each recorded",
            parent=imports)

    wo = sub.add_parser("write-off", help="write-offs of overpayments: proposed by one person, approved by "
                        "another").add_subparsers(dest="what", required=True)
    p = command("propose", cmd_write_off_propose, "propose writing off an open overpayment (nothing moves "
                "until another person approves it)", parent=wo)
    p.add_argument("citizen_id")
    p.add_argument("--amount", type=int, required=True, help="VND")
    p.add_argument("--decision", required=True, help="the decision number writing it off")
    p.add_argument("--reason", required=True)
    p.add_argument("--receipt", help="the key to record it under (default: the decision number)")
    for name, handler, text in (("approve", cmd_write_off_approve, "approve a proposed write-off: the money moves "
                                 "now (never by the person who proposed it, when four_eyes is on)"),
                                ("reject", cmd_write_off_reject, "turn a proposed write-off down, with a reason")):
        p = command(name, handler, text, parent=wo)
        p.add_argument("citizen_id")
        p.add_argument("receipt_no")
        if name == "reject":
            p.add_argument("--reason", required=True)
    command("list", cmd_write_off_list, "write-offs proposed, approved and rejected, with both names",
            parent=wo).add_argument("--status", choices=("pending", "approved", "rejected"))
    command("recoveries", cmd_recoveries, "open and closed overpayments, with what was recovered")
    population_cli.add_commands(sub, command)

    payroll = sub.add_parser("payroll", help="the monthly payroll").add_subparsers(dest="what", required=True)
    run = command("run", cmd_payroll_run, "issue the month's payroll, write one file per agent", parent=payroll)
    run.add_argument("--month", type=_month, required=True)
    run.add_argument("--out", required=True, help="folder for the payroll files")
    p = command("prepare", cmd_payroll_prepare, "plan the month's payroll and record it for another person to "
                "release (four eyes); nothing is issued", parent=payroll)
    p.add_argument("--month", type=_month, required=True)
    p = command("release", cmd_payroll_release, "issue the prepared payroll (by another person when four_eyes "
                "is on) and write one file per agent", parent=payroll)
    p.add_argument("--month", type=_month, required=True)
    p.add_argument("--out", required=True, help="folder for the payroll files")
    p.add_argument("--preparation", type=int, metavar="N",
                   help="release only if preparation N is still the latest (as shown by prepare)")

    command("unclaimed", cmd_unclaimed, "the unclaimed-month queue"
            ).add_argument("--month", type=_month, required=True)

    bene = sub.add_parser("beneficiary", help="one person").add_subparsers(dest="what", required=True)
    p = command("show", cmd_beneficiary_show, "status, categories and the month-by-month schedule", parent=bene)
    p.add_argument("citizen_id")
    p.add_argument("--as-known-at", type=_instant, help="as the ledger knew it then (ISO date-time)")

    command("entitlements", cmd_entitlements, "everyone's entitlement for a month"
            ).add_argument("--month", type=_month, required=True)

    rules = sub.add_parser("rules", help="rule sets").add_subparsers(dest="what", required=True)
    p = command("whatif", cmd_rules_whatif, "what a rule change would have paid, recording nothing", parent=rules)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--rules", help="a candidate rule file (TOML; may extend the current one)")
    source.add_argument("--level", type=int, help="the current rules with the standard level set to VND")
    p.add_argument("--from", dest="month_from", type=_month, required=True)
    p.add_argument("--to", dest="month_to", type=_month, help="last month (default: a year from --from)")

    audit_cmds = sub.add_parser("audit", help="for auditors").add_subparsers(dest="what", required=True)
    command("timeline", cmd_audit_timeline, "every event about a person, in recorded order",
            parent=audit_cmds).add_argument("citizen_id")
    p = command("verify", cmd_audit_verify, "check the recorded history against its hash chain", parent=audit_cmds)
    p.add_argument("--against", nargs="+", action="extend", metavar="FILE",
                   help="signed checkpoints (ledger audit checkpoint) the history must extend")
    p = command("checkpoint", cmd_audit_checkpoint, "the chain's head, signed with the office's key, as JSON",
                parent=audit_cmds, json_flag=False)
    p.add_argument("--out", help="write it to this file (default: stdout)")
    p = command("seal", cmd_audit_seal, "seal, once, the events stored before the hash chain existed (recorded "
                "with the actor)", parent=audit_cmds)
    p.add_argument("--existing", action="store_true", required=True,
                   help="the events stored before the first seal (refused if any unsealed one follows a seal)")

    p = command("export", cmd_audit_export, "the bundle an inspection takes away (zip): every event as JSON "
                "lines with its seal, the head signed with the office's key, a manifest of SHA-256s",
                parent=audit_cmds)
    p.add_argument("--out", required=True, help="the zip file to write")

    p = command("replay", cmd_replay, "rebuild the projections from the event log and check them")
    p.add_argument("--as-known-at", type=_instant, help="only the events recorded up to then (ISO date-time)")
    p.add_argument("--into", help="SQLite file for the rebuilt views (default: a temporary one)")

    p = command("keygen", run_keygen, "print a new key for LEDGER_CIPHER_KEY (encryption at rest); with "
                "--signing, the office's Ed25519 key for signed checkpoints", json_flag=False)
    p.add_argument("--signing", action="store_true", help="an Ed25519 signing key (PEM) instead")
    p.add_argument("--out", help="with --signing: write the private key to this new file (mode 600)")

    config = sub.add_parser("config", help="the settings in force").add_subparsers(dest="what", required=True)
    command("show", cmd_config_show, "the settings in force (file, environment, flags), secrets masked",
            parent=config)

    users = sub.add_parser("user", help="who may log in to the web application").add_subparsers(
        dest="what", required=True)
    p = command("add", cmd_user_add, "add a web user (asks for the password)", parent=users)
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=("officer", "approver", "auditor", "admin"))
    p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    command("list", cmd_user_list, "the web users", parent=users)
    command("disable", cmd_user_disable, "stop a web user from logging in", parent=users).add_argument("name")

    p = sub.add_parser("serve", help="the web application", description=SERVE_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(handler=cmd_serve)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, loopback only)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")

    national_cli.add_commands(sub, command, _month)

    demo = command("demo", run_demo_command, "a synthetic district run through several months", json_flag=False)
    demo.add_argument("--people", type=int, default=2000)
    demo.add_argument("--out", default="demo-out", help="folder for the files the demo exchanges")
    demo.add_argument("--seed", type=int, default=7)
    return parser


def cmd_config_show(settings: LedgerSettings, args: argparse.Namespace) -> None:
    _emit(args, settings.shown(), lambda d: "\n".join(f"{k} = {v!r}" for k, v in d.items()))


# Handlers that work on the settings alone, not on a ledger.
_NO_LEDGER = (run_demo_command, run_keygen, *national_cli.NO_LEDGER)


# The commands that record events: each names the person who acted.
RECORDING = (cmd_import_decisions, cmd_import_deaths, cmd_import_recoveries, cmd_import_postoffice,
             cmd_import_bank, cmd_payroll_run, cmd_payroll_prepare, cmd_payroll_release, cmd_settlement_close,
             cmd_audit_seal,
             cmd_write_off_propose, cmd_write_off_approve, cmd_write_off_reject, *cli_office.RECORDING,
             *population_cli.RECORDING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every failure is a message on stderr and an exit
    code (EXIT_CODES_HELP), never a traceback (one is logged at DEBUG)."""
    started()
    args = build_parser().parse_args(argv)
    logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s",
                        level=args.log_level or ("INFO" if args.verbose else "WARNING"))
    try:
        settings = LedgerSettings.load(args.config, database_url=args.db, actor=args.actor,
                                       lock_wait_seconds=args.wait)
        args.actor = (settings.actor or "").strip()
        args.four_eyes = settings.four_eyes
        args.settings = settings
        if args.handler in RECORDING and not args.actor:
            print("ledger: who is acting? This command records events, and each names the person who acted: "
                  "give --actor NAME, set LEDGER_ACTOR, or actor in the settings file", file=sys.stderr)
            return EXIT_USAGE
        if settings.progress:
            os.environ["LEDGER_PROGRESS"] = "1"
        if args.handler is cmd_config_show:
            cmd_config_show(settings, args)
            return EXIT_OK
        if args.handler in _NO_LEDGER:
            args.handler(args)
            return EXIT_OK
        with open_runtime(settings=settings) as runtime:
            queries = Queries(runtime)
            with reading_options(getattr(args, "delimiter", None), getattr(args, "encoding", None)):
                args.handler(Commands(runtime, queries), queries, args)
    except SystemExit as exc:  # the handlers' own exit codes (verify 2, replay 3)
        return exc.code if isinstance(exc.code, int) else EXIT_REFUSED
    except InputRejected as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"rejected: {len(exc.problems)} problem(s); nothing was recorded", file=sys.stderr)
        return EXIT_REFUSED
    except BaseException as exc:  # noqa: BLE001 - every failure becomes a message and an exit code
        if not (isinstance(exc, KeyboardInterrupt) or interrupted()):
            code, message = explain(exc)
            logging.getLogger("ledger").debug("details", exc_info=exc)
            print(f"ledger: {message}", file=sys.stderr)
            return code
        print("ledger: interrupted. A command records all it does in one transaction, committed at its "
              "end: what it had not committed was not recorded, and running it again records nothing "
              "twice.", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

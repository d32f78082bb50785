"""``ledger national ...``: the national database's commands (on the
``--db`` database, which holds no ledger) and the province's own
``national publish``; and the publishing that follows ``settlement close``."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import CommandRefused


def _emit(args: argparse.Namespace, data, human) -> None:
    from ..cli import _emit as emit  # the command line's own (imported late: it imports this module)

    emit(args, data, human)


def _vnd(amount: int) -> str:
    from ..cli import _vnd as vnd

    return vnd(amount)


def _status_human(d: dict) -> str:
    lines = [f"national database {d['database']}: {len(d['provinces'])} province(s)"]
    for p in d["provinces"]:
        lag = p.get("lag_bytes")
        reach = p.get("reachable")
        state = ("running" if p["running"] else "NOT RUNNING")
        if p.get("tables_syncing"):
            state += f", {p['tables_syncing']} table(s) still copying"
        if "reachable" not in p:
            where = ""
        elif reach is None:
            where = "; lag not asked (its address has a password: keep it in a .pgpass instead)"
        elif reach is False:
            where = f"; province UNREACHABLE ({p.get('problem', '')})"
        else:
            where = f"; lag {lag} bytes of WAL" if lag is not None else f"; {p.get('problem', '')}"
        since = p["seconds_since_last_message"]
        lines.append(f"  {p['province']}: subscription {p['subscription']} {state}{where}; last message "
                     f"{'never' if since is None else f'{since} s ago'}; last closed month "
                     f"{p['last_closed_month'] or 'none'}")
    return "\n".join(lines)


def run_init(args: argparse.Namespace) -> None:
    from .subscriptions import init

    _emit(args, init(args.settings.database_url).as_dict(),
          lambda d: f"national tables ready on {d['database']} ({len(d['provinces'])} province(s))")


def run_add_province(args: argparse.Namespace) -> None:
    from .subscriptions import add_province

    key = args.public_key
    if Path(key).is_file():
        key = Path(key).read_text(encoding="utf-8").strip()
    _emit(args, add_province(args.settings.database_url, args.name, args.url, key).as_dict(),
          lambda d: f"province {args.name} subscribed\n" + _status_human(d))


def run_status(args: argparse.Namespace) -> None:
    from .subscriptions import status

    _emit(args, status(args.settings.database_url).as_dict(), _status_human)


def _report_human(d: dict) -> str:
    rows = []
    for p in d["provinces"]:
        f = p["figures"]
        if f is None:
            rows.append(f"  {p['province']:<8} {p['status'].upper()}: {p['reason']}")
            continue
        rows.append(f"  {p['province']:<8} advance {_vnd(f['advance'])}, disbursed {_vnd(f['disbursed'])} to "
                    f"{f['people_paid']} people, cashless {f['cashless_share']:.1%}, unclaimed "
                    f"{_vnd(f['unclaimed_held_vnd'])}, overpayments open {_vnd(f['overpayments_open_vnd'])} "
                    f"({f['overpayments_open_count']}), fee {_vnd(f['fee'])}")
    t = d["totals"]
    gaps = d["provinces_missing"] + d["provinces_refused"]
    head = (f"national report {d['month']}: {d['provinces_counted']} of {len(d['provinces'])} provinces"
            + ("" if not gaps else f" (NOT COUNTED: {', '.join(gaps)})"))
    total = (f"  national advance {_vnd(t['advance'])}, disbursed {_vnd(t['disbursed'])} to {t['people_paid']} "
             f"people, cashless {t['cashless_share']:.1%}, unclaimed {_vnd(t['unclaimed_held_vnd'])}, "
             f"overpayments open {_vnd(t['overpayments_open_vnd'])} ({t['overpayments_open_count']}), "
             f"fee {_vnd(t['fee'])}")
    return "\n".join([head, *rows, total])


def run_report(args: argparse.Namespace) -> None:
    from .report import national_report

    _emit(args, national_report(args.settings.database_url, str(args.month)).as_dict(), _report_human)


def publish(queries, settings, month, checkpoint: dict, summary=None):
    """Publish a closed month with its checkpoint (the province's settings
    name the province and the signing key)."""
    from ..checkpoints import load_signing_key
    from .published import publish_month

    if not settings.province_code:
        raise CommandRefused("no province_code in the settings: this ledger publishes nothing")
    key = load_signing_key(queries.runtime.signing_key_file)
    return publish_month(queries.runtime, summary or queries.district_summary(month), settings.province_code,
                         checkpoint, key)


def run_publish(commands, queries, args: argparse.Namespace) -> None:
    from ..checkpoints import load_signing_key, make_checkpoint, write_checkpoint
    from ..closing import checkpoint_path

    runtime = queries.runtime
    if not args.settings.province_code:
        raise CommandRefused("no province_code in the settings: this ledger publishes nothing")
    summary = queries.district_summary(args.month)
    if not summary.closed:  # before a checkpoint is written for nothing
        raise CommandRefused(f"{args.month} is not closed: only closed months are published")
    checkpoint = make_checkpoint(runtime, load_signing_key(runtime.signing_key_file))
    path = checkpoint_path(args.checkpoint_out or args.settings.checkpoint_dir, args.month, checkpoint)
    write_checkpoint(checkpoint, path)
    done = publish(queries, args.settings, args.month, checkpoint, summary).as_dict()
    _emit(args, dict(done, checkpoint=str(path)),
          lambda d: f"{d['month']} published for province {d['province']} with the checkpoint at position "
                    f"{d['checkpoint_position']} ({path}): "
                    + ", ".join(f"{n} {t}" for t, n in d["rows"].items()))


NO_LEDGER = (run_init, run_add_province, run_status, run_report)


def add_commands(sub, command, month_type) -> None:
    national = sub.add_parser("national", help="the national database fed by the provinces").add_subparsers(
        dest="what", required=True)
    command("init", run_init, "make the national tables on --db (running it again changes nothing)",
            parent=national)
    p = command("add-province", run_add_province, "register a province and subscribe to its published "
                "months (PostgreSQL logical replication)", parent=national)
    p.add_argument("name", help="the province's code (its province_code setting)")
    p.add_argument("url", help="the province's database, postgresql://user:pass@host:port/dbname")
    p.add_argument("--public-key", required=True, metavar="HEX|FILE",
                   help="the province's checkpoint public key (ledger keygen --signing prints it)")
    command("status", run_status, "each province's subscription, its lag and its last closed month",
            parent=national)
    p = command("report", run_report, "a month's totals per province and national, from verified "
                "published months only", parent=national)
    p.add_argument("--month", type=month_type, required=True)
    p = command("publish", run_publish, "on a province's ledger: publish a closed month again (a new "
                "signed checkpoint with it)", parent=national)
    p.add_argument("--month", type=month_type, required=True)
    p.add_argument("--checkpoint-out", metavar="DIR",
                   help="folder for the signed checkpoint (default: the checkpoint_dir setting, ./checkpoints)")

"""The national report for a closed month, from the replicated published
tables only.

A province's month counts only if what arrived is what the province signed:
its checkpoint verifies with the public key registered for it, its signed
statement names that checkpoint, and each published table's rows give the
digest the statement carries. A province whose month is not there (not
closed, not yet replicated) is shown as missing, and one whose figures do
not verify is refused: neither is ever counted as zero, and the national
totals say how many provinces they cover."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..checkpoints import signature_problem
from . import published
from .subscriptions import engine_for, provinces, require_national

# The figures summed over provinces (the published_close columns).
SUMMED = ("advance", "disbursed", "fee", "returned", "closing_balance", "paid_cash_vnd", "paid_bank_vnd",
          "people_paid", "unclaimed_verify", "unclaimed_suspended", "unclaimed_held_vnd",
          "overpayments_open_count", "overpayments_open_vnd", "recovered_vnd", "written_off_vnd")

OK, MISSING, REFUSED = "ok", "missing", "refused"


@dataclass(frozen=True)
class ProvinceMonth:
    province: str
    status: str  # ok, missing, refused
    reason: str = ""
    figures: dict = field(default_factory=dict)  # SUMMED, with agents, communes, cashless_share (ok only)
    checkpoint_position: int | None = None

    def as_dict(self) -> dict:
        return dict(province=self.province, status=self.status, reason=self.reason,
                    checkpoint_position=self.checkpoint_position, figures=dict(self.figures) or None)


@dataclass(frozen=True)
class NationalReport:
    month: str
    provinces: tuple[ProvinceMonth, ...]
    totals: dict  # over the provinces whose month verified

    @property
    def complete(self) -> bool:
        return bool(self.provinces) and all(p.status == OK for p in self.provinces)

    def as_dict(self) -> dict:
        return dict(month=self.month, complete=self.complete,
                    provinces_counted=sum(1 for p in self.provinces if p.status == OK),
                    provinces_missing=[p.province for p in self.provinces if p.status == MISSING],
                    provinces_refused=[p.province for p in self.provinces if p.status == REFUSED],
                    totals=dict(self.totals), provinces=[p.as_dict() for p in self.provinces])


def _cashless(figures: dict) -> float:
    paid = figures["paid_cash_vnd"] + figures["paid_bank_vnd"]
    return figures["paid_bank_vnd"] / paid if paid else 0.0


def check_province_month(conn, province: str, public_key: str, month: str) -> ProvinceMonth:
    """One province's month as replicated, verified against its signatures."""
    return check_rows(province, public_key, month,
                      {p.table.name: published.month_rows(conn, p, province, month) for p in published.TABLES})


def check_rows(province: str, public_key: str, month: str, rows: dict[str, list[dict]]) -> ProvinceMonth:
    """``rows``: each published table's rows of the province's month."""
    close = rows[published.closes.name]
    if not close:
        return ProvinceMonth(province, MISSING, f"{month} is not closed in {province}, or not yet replicated")
    close = close[0]

    def refused(reason: str) -> ProvinceMonth:
        return ProvinceMonth(province, REFUSED, reason)

    try:
        checkpoint = json.loads(close["checkpoint"])
        statement = json.loads(close["statement"])
    except ValueError as exc:
        return refused(f"unreadable checkpoint or statement: {exc}")
    problem = signature_problem(checkpoint, public_key)
    if problem:
        return refused(f"checkpoint: {problem}")
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key)).verify(
            bytes.fromhex(close["signature"]), published.canonical(statement))
    except (ValueError, InvalidSignature):
        return refused("the published statement's signature is not valid: the figures were altered")
    named = statement.get("checkpoint", {})
    if (statement.get("province"), statement.get("month")) != (province, month):
        return refused(f"the statement is for {statement.get('province')} {statement.get('month')}")
    if (named.get("position"), named.get("hash"), named.get("signature")) != (
            checkpoint["position"], checkpoint["hash"], checkpoint["signature"]):
        return refused("the statement names another checkpoint than the one published with it")
    if int(checkpoint["position"]) < int(statement["closed_at"]["position"]):
        return refused("the checkpoint is older than the close")
    for p in published.TABLES:
        expected = statement["tables"].get(p.table.name)
        if expected is None:
            continue  # a table the province does not publish yet
        if published.digest(rows[p.table.name], p.figures) != expected:
            return refused(f"{p.table.name}: the rows differ from those the province signed "
                           "(altered, or not all replicated yet)")
    figures = {name: int(close[name]) for name in SUMMED}
    figures.update(agents=len(rows[published.agents.name]), communes=len(rows[published.communes.name]),
                   cashless_share=_cashless(figures))
    return ProvinceMonth(province, OK, "", figures, int(checkpoint["position"]))


def national_report(url: str, month: str) -> NationalReport:
    engine = engine_for(url)
    try:
        require_national(engine, url)
        # One snapshot for every province's rows: the apply workers keep
        # writing while the report reads.
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            registered = conn.execute(sa.select(provinces.c.province, provinces.c.public_key)
                                      .order_by(provinces.c.province)).all()
            # Each table's rows of the month, all provinces at once (three
            # queries, not three per province).
            by_province: dict[str, dict[str, list[dict]]] = {}
            for p in published.TABLES:
                for row in conn.execute(sa.select(p.table).where(p.table.c.month == month)):
                    row = dict(row._mapping)
                    by_province.setdefault(row["province"], {}).setdefault(p.table.name, []).append(row)
            empty = {p.table.name: [] for p in published.TABLES}
            checked = tuple(check_rows(code, key, month, {**empty, **by_province.get(code, {})})
                            for code, key in registered)
    finally:
        engine.dispose()
    counted = [p.figures for p in checked if p.status == OK]
    totals = {name: sum(f[name] for f in counted) for name in SUMMED}
    totals.update(agents=sum(f["agents"] for f in counted), communes=sum(f["communes"] for f in counted),
                  cashless_share=_cashless(totals))
    return NationalReport(month, checked, totals)

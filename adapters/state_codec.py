"""A beneficiary's state to and from JSON bytes: the write-side snapshot
(adapters/snapshots.py), so a command restores a person without replaying
their whole history."""
from __future__ import annotations

import orjson
from datetime import date

from ledger import facts as f
from ledger.facts import BeneficiaryFacts, Timeline
from ledger.entitlement import Segment
from ledger.months import Month
from ledger.payouts import FuneralGrant, PayLine, PayoutBook, Recovery, WriteOffProposal
from ledger.state import BeneficiaryState


def _basis(b: f.Basis) -> list:
    return [str(b.effective), b.signed_on.isoformat(), b.decision_no]


def _unbasis(raw: list) -> f.Basis:
    return f.Basis(Month.parse(raw[0]), date.fromisoformat(raw[1]), raw[2])


def facts_to_dict(facts: BeneficiaryFacts) -> dict:
    death = facts.death
    return {
        "c": facts.citizen_id, "n": facts.full_name, "b": facts.birth_date.isoformat(),
        "s": facts.sex, "m": str(facts.first_month),
        "cat": [[_basis(x.basis), list(x.categories), x.children_count] for x in facts.categories.facts],
        "st": [[_basis(x.basis), x.status, x.reason, x.lifts_hold, x.ends_move] for x in facts.statuses.facts],
        "res": [[_basis(x.basis), x.province_code, x.commune_code] for x in facts.residences.facts],
        "ch": [[_basis(x.basis), x.channel, x.agent_code, x.bank_account, x.home_delivery]
               for x in facts.channels.facts],
        "px": [[_basis(x.basis), x.proxy_name, x.proxy_citizen_id, *([x.bank_account] if x.bank_account else [])]
               for x in facts.proxies.facts],
        "d": None if death is None else [death.date_of_death.isoformat(), death.notice_id,
                                         death.source, death.reported_on.isoformat()],
        # The memoised schedule travels with the facts, so a restored person
        # needs no recomputation under the same rules.
        "memo": None if facts.schedule_memo is None else [
            facts.schedule_memo[0],
            [[str(r.first), str(r.last) if r.last else None, r.amount_vnd, r.status, list(r.categories)]
             for r in facts.schedule_memo[1]]],
    }


def _status(raw: list, decisions: dict) -> f.StatusFact:
    basis, status, reason, lifts_hold, *rest = raw
    if rest:
        return f.StatusFact(_unbasis(basis), status, reason, lifts_hold, rest[0])
    # Written before ``ends_move`` was kept: a relocate_in's fact ends a move
    # (as its event now folds), which the decision keys tell.
    ends_move = status == f.ACTIVE and not lifts_hold and f"relocate_in|{basis[2]}" in decisions
    return f.StatusFact(_unbasis(basis), status, reason, lifts_hold, ends_move)


def facts_from_dict(raw: dict, decisions: dict | None = None) -> BeneficiaryFacts:
    death = raw["d"]
    return BeneficiaryFacts(
        raw["c"], raw["n"], date.fromisoformat(raw["b"]), raw["s"], Month.parse(raw["m"]),
        categories=Timeline(tuple(f.CategoryFact(_unbasis(b), tuple(c), n) for b, c, n in raw["cat"])),
        statuses=Timeline(tuple(_status(x, decisions or {}) for x in raw["st"])),
        residences=Timeline(tuple(f.ResidenceFact(_unbasis(b), p, c) for b, p, c in raw["res"])),
        channels=Timeline(tuple(f.ChannelFact(_unbasis(b), c, a, acc, h) for b, c, a, acc, h in raw["ch"])),
        proxies=Timeline(tuple(f.ProxyFact(_unbasis(b), n, c, *account) for b, n, c, *account in raw["px"])),
        death=None if death is None else f.DeathFact(
            date.fromisoformat(death[0]), death[1], death[2], date.fromisoformat(death[3])),
        schedule_memo=None if not raw.get("memo") else (raw["memo"][0], tuple(
            Segment(Month.parse(a), Month.parse(b) if b else None, amount, status, tuple(cats))
            for a, b, amount, status, cats in raw["memo"][1])),
    )


# --- the whole state: facts, payout book, recorded keys --------------------------

def _line(x: PayLine) -> list:
    return [x.payroll_id, x.line_id, x.agent_code, x.channel, str(x.payroll_month), x.kind,
            [str(m) for m in x.months], list(x.amounts), x.status,
            x.settled_on.isoformat() if x.settled_on else None, x.detail,
            *([True] if x.to_proxy_account else [])]


def _unline(raw: list) -> PayLine:
    # A twelfth item only on a line into a proxy's account (older snapshots have eleven).
    (payroll_id, line_id, agent, channel, payroll_month, kind, months, amounts, status,
     settled_on, detail, *to_proxy) = raw
    return PayLine(payroll_id, line_id, agent, channel, Month.parse(payroll_month), kind,
                   tuple(Month.parse(m) for m in months), tuple(amounts), status,
                   date.fromisoformat(settled_on) if settled_on else None, detail, bool(to_proxy))


def state_to_bytes(state: BeneficiaryState) -> bytes:
    # orjson: a few times faster than json on the states every command reads and writes.
    return orjson.dumps({
        "facts": facts_to_dict(state.facts),
        "lines": [_line(x) for x in state.book.lines],
        "holds": [list(h) for h in state.book.holds],
        "overpaid": state.book.overpaid_recorded_vnd,
        "recoveries": [[r.receipt_no, r.amount_vnd, r.paid_on.isoformat(), r.paid_by, r.method,
                        r.decision_no, r.reason] for r in state.book.recoveries],
        "funeral": None if state.book.funeral is None else [
            state.book.funeral.amount_vnd, state.book.funeral.date_of_death.isoformat(),
            state.book.funeral.arranged_by, state.book.funeral.notice_id],
        "decisions": state.decisions,
        "notices": state.notices,
        "proposals": [[p.receipt_no, p.amount_vnd, p.decision_no, p.reason, p.proposed_on.isoformat(), p.proposed_by]
                      for p in state.book.proposals],
        **({"confirmations": state.confirmations} if state.confirmations else {}),
    })


def state_from_bytes(data: bytes) -> BeneficiaryState:
    raw = orjson.loads(data)
    return BeneficiaryState(
        facts_from_dict(raw["facts"], raw["decisions"]),
        PayoutBook(
            tuple(_unline(x) for x in raw["lines"]),
            tuple(tuple(h) for h in raw["holds"]),
            tuple(Recovery(n, a, date.fromisoformat(d), by, m, dec, why)
                  for n, a, d, by, m, dec, why in raw["recoveries"]),
            None if raw["funeral"] is None else FuneralGrant(
                raw["funeral"][0], date.fromisoformat(raw["funeral"][1]), raw["funeral"][2], raw["funeral"][3]),
            raw["overpaid"],
            # Snapshots written before write-offs were proposed have none.
            tuple(WriteOffProposal(n, a, dec, why, date.fromisoformat(on), by)
                  for n, a, dec, why, on, by in raw.get("proposals", ())),
        ),
        raw["decisions"],
        raw["notices"],
        raw.get("confirmations", {}),
    )

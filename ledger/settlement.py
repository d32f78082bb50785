"""The monthly settlement with each agent (quyết toán): what the books say
the agent held, received, paid out, earned and handed back, set beside what
the agent reported, with every difference named and classified."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import date

from .contracts import Contracts
from .months import Month

# Kinds of variance, as an officer would name them.
NOT_IN_PAYROLL = "not_in_payroll"          # reported, but no such line was issued
CITIZEN_DIFFERS = "citizen_differs"        # the line was issued to someone else
AMOUNT_DIFFERS = "amount_differs"          # a line's amount, or the month's paid total
PAID_AFTER_DEATH = "paid_after_death"
PAID_TWICE = "paid_twice"                  # a line (or a month) paid more than once
PAID_AFTER_CANCELLATION = "paid_after_cancellation"  # the office had withdrawn it
BALANCE_DIFFERS = "balance_differs"
FEE_DIFFERS = "fee_differs"                # claimed fee other than the contract's
ADVANCE_DIFFERS = "advance_differs"


@dataclass(frozen=True)
class Variance:
    kind: str
    line_id: str
    citizen_id: str
    amount: int  # VND: the difference, or the line's amount
    detail: str
    accepted: dict | None = None  # {"reason", "actor"} once an officer accepted it
    # The figures behind ``detail``, so that a report can say it in its own
    # words (the partner's copy is in Vietnamese): dates as YYYY-MM-DD, VND as int.
    facts: dict = field(default_factory=dict)

    def key(self, agent_code: str) -> str:
        """How an officer names it when accepting it."""
        return f"{agent_code}/{self.kind}/{self.line_id}"


class UnknownVariance(ValueError):
    """An acceptance names no variance of the month."""


def _same_key(key: str) -> str:
    """Keys as officers type them: a variance with no line (a report's
    figure) may be named with or without its trailing slash."""
    return key.strip().rstrip("/")


def match_acceptances(month: Month, open_keys: list[str], acceptances: dict[str, str]) -> dict[str, str]:
    """The acceptances by the key of the variance each names; an acceptance
    that names none is refused, listing the month's variances."""
    by_key = {_same_key(key): key for key in open_keys}
    matched, unknown = {}, []
    for key, reason in acceptances.items():
        found = by_key.get(_same_key(key))
        if found is None:
            unknown.append(key)
        else:
            matched[found] = reason
    if unknown:
        listed = "".join(f"\n  {key}" for key in dict.fromkeys(open_keys))
        raise UnknownVariance(
            f"{month}: no variance {', '.join(unknown)}; "
            + (f"the variances are:{listed}" if open_keys else "the month has no variances"))
    return matched


def mark_accepted(result: AgentSettlement, accepted: dict[str, dict]) -> None:
    """Each variance with its acceptance (reason and who accepted it), if any."""
    result.variances = [replace(v, accepted=accepted.get(v.key(result.agent_code))) for v in result.variances]


@dataclass
class AgentSettlement:
    agent_code: str
    month: str
    opening_balance: int
    advance: int
    disbursed: int
    fee: int
    returned: int
    closing_balance: int
    reported_balance: int | None
    variances: list[Variance] = field(default_factory=list)
    closed: bool = False

    def as_dict(self) -> dict:
        data = asdict(self)
        data["variances"] = [asdict(v) for v in self.variances]
        return data


def settle(agent_code: str, month: Month, *, opening: int, advance: int, disbursed: int,
           returned: int, fee: int, report: dict | None) -> AgentSettlement:
    """Figures and the variances against the agent's own report.

    The advance is the money for beneficiaries: the month's new lines, as
    the payroll issued them. The fee is a separate figure, computed on what
    was paid and settled apart: it is advanced and taken in the same month,
    so it leaves the agent's float unchanged, and the closing balance
    ``opening + advance - disbursed - returned`` is what the agent still
    owes beneficiaries. Each of the agent's reported figures is set beside
    the same figure of the books."""
    closing = opening + advance - disbursed - returned
    result = AgentSettlement(agent_code, str(month), opening, advance, disbursed, fee, returned, closing,
                             report["balance_remaining"] if report else None)
    if report is None:
        return result
    checks = (
        (BALANCE_DIFFERS, report["balance_remaining"], closing, "balance_remaining"),
        (FEE_DIFFERS, report["fee_claimed"], fee, "fee_claimed"),
        (AMOUNT_DIFFERS, report["paid_total"], disbursed, "paid_total"),
        (ADVANCE_DIFFERS, report["advance_received"], advance, "advance_received"),
    )
    for kind, reported, booked, figure in checks:
        if reported != booked:
            result.variances.append(Variance(
                kind, "", "", reported - booked,
                f"{figure.replace('_', ' ')}: reported {reported:,}, books {booked:,} VND",
                facts={"figure": figure, "reported": reported, "booked": booked}))
    return result


def fee_for(contracts: Contracts, agent_code: str, month: Month, *, paid_vnd: int, persons_paid: int,
            closed_fee: int | None = None) -> int:
    """The agent's fee for the month: once the agent's month is closed, the
    fee recorded at the close; before, the contract's on what the agent paid.
    It is a figure of its own, never part of the advance for beneficiaries."""
    if closed_fee is not None:
        return closed_fee
    return contracts.fee_vnd(agent_code, month, paid_vnd, persons_paid)


def flagged_variance(line: dict, other_paid_months: set[str]) -> Variance:
    """A payment the ledger recorded but flagged for follow-up."""
    flags = line["flags"].split(";")
    months = set(line["months"].split(";"))
    twice = sorted(months & other_paid_months)
    facts = {"paid_on": line["settled_on"] or "", "months": twice}
    if "paid_after_cancellation" in flags and twice:
        kind, detail = PAID_TWICE, f"months {', '.join(twice)} were paid on another line too"
    elif "paid_after_death" in flags:
        kind, detail = PAID_AFTER_DEATH, f"paid on {line['settled_on']}, after the date of death"
    else:
        kind, detail = PAID_AFTER_CANCELLATION, f"paid on {line['settled_on']} after the office withdrew it"
    return Variance(kind, line["line_id"], line["citizen_id"], line["amount_vnd"], detail, facts=facts)


def compare_result_lines(results: list[dict], issued: dict[str, dict],
                         deaths: dict[str, date], seen: set[str] | None = None) -> list[Variance]:
    """An agent's result lines (not recorded: evidence) against the payroll.

    ``results``: dicts with line_id, payroll_id, citizen_id, status, on (date),
    amount; ``issued``: the ledger's lines by id; ``deaths``: date of death by
    citizen id; ``seen``: the line ids paid in earlier parts of the same
    evidence, when it is compared a part at a time (updated)."""
    variances: list[Variance] = []
    seen = set() if seen is None else seen
    for r in results:
        if r["status"] not in ("paid", "credited"):
            continue
        line = issued.get(r["line_id"])
        if line is None or line["payroll_id"] != r["payroll_id"]:
            variances.append(Variance(NOT_IN_PAYROLL, r["line_id"], r.get("citizen_id", ""), r["amount"],
                                      f"{r['payroll_id']} has no line {r['line_id']}",
                                      facts={"payroll_id": r["payroll_id"]}))
            continue
        citizen = line["citizen_id"]
        if r.get("citizen_id") and r["citizen_id"] != citizen:
            variances.append(Variance(CITIZEN_DIFFERS, r["line_id"], r["citizen_id"], r["amount"],
                                      f"issued to {citizen}", facts={"issued_to": citizen}))
        if r["amount"] != line["amount_vnd"]:
            variances.append(Variance(AMOUNT_DIFFERS, r["line_id"], citizen, r["amount"] - line["amount_vnd"],
                                      f"issued {line['amount_vnd']:,}, reported {r['amount']:,} VND",
                                      facts={"booked": line["amount_vnd"], "reported": r["amount"]}))
        if r["line_id"] in seen or (line["status"] == "paid" and line["settled_on"]
                                    and line["settled_on"] != r["on"].isoformat()):
            variances.append(Variance(PAID_TWICE, r["line_id"], citizen, r["amount"],
                                      f"already paid on {line['settled_on'] or 'another line of this file'}",
                                      facts={"paid_on": line["settled_on"] or ""}))
        seen.add(r["line_id"])
        died = deaths.get(citizen)
        if died and r["on"] > died:
            variances.append(Variance(PAID_AFTER_DEATH, r["line_id"], citizen, r["amount"],
                                      f"paid on {r['on']}, died on {died}",
                                      facts={"paid_on": str(r["on"]), "died_on": str(died)}))
    return variances

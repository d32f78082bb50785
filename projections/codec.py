"""Facts to and from JSON, so a read model can keep the fold state of each
beneficiary beside its rows and apply the next event without re-reading
the person's history."""
from __future__ import annotations

import json
from datetime import date

from ledger import facts as f
from ledger.facts import BeneficiaryFacts, Timeline
from ledger.months import Month


def _basis(b: f.Basis) -> list:
    return [str(b.effective), b.signed_on.isoformat(), b.decision_no]


def _unbasis(raw: list) -> f.Basis:
    return f.Basis(Month.parse(raw[0]), date.fromisoformat(raw[1]), raw[2])


def facts_to_json(facts: BeneficiaryFacts) -> str:
    death = facts.death
    return json.dumps({
        "c": facts.citizen_id, "n": facts.full_name, "b": facts.birth_date.isoformat(),
        "s": facts.sex, "m": str(facts.first_month),
        "cat": [[_basis(x.basis), list(x.categories), x.children_count] for x in facts.categories.facts],
        "st": [[_basis(x.basis), x.status, x.reason] for x in facts.statuses.facts],
        "res": [[_basis(x.basis), x.province_code, x.commune_code] for x in facts.residences.facts],
        "ch": [[_basis(x.basis), x.channel, x.agent_code, x.bank_account, x.home_delivery]
               for x in facts.channels.facts],
        "px": [[_basis(x.basis), x.proxy_name, x.proxy_citizen_id] for x in facts.proxies.facts],
        "d": None if death is None else [death.date_of_death.isoformat(), death.notice_id,
                                         death.source, death.reported_on.isoformat()],
    }, ensure_ascii=False, separators=(",", ":"))


def facts_from_json(text: str) -> BeneficiaryFacts:
    raw = json.loads(text)
    death = raw["d"]
    return BeneficiaryFacts(
        raw["c"], raw["n"], date.fromisoformat(raw["b"]), raw["s"], Month.parse(raw["m"]),
        categories=Timeline(tuple(f.CategoryFact(_unbasis(b), tuple(c), n) for b, c, n in raw["cat"])),
        statuses=Timeline(tuple(f.StatusFact(_unbasis(b), s, r) for b, s, r in raw["st"])),
        residences=Timeline(tuple(f.ResidenceFact(_unbasis(b), p, c) for b, p, c in raw["res"])),
        channels=Timeline(tuple(f.ChannelFact(_unbasis(b), c, a, acc, h) for b, c, a, acc, h in raw["ch"])),
        proxies=Timeline(tuple(f.ProxyFact(_unbasis(b), n, c) for b, n, c in raw["px"])),
        death=None if death is None else f.DeathFact(
            date.fromisoformat(death[0]), death[1], death[2], date.fromisoformat(death[3])),
    )

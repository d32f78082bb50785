"""Rule-change what-ifs: the current rules change nothing, nothing is ever
recorded, and the shipped social-pension example reads as the decree says."""
from __future__ import annotations

import json
from datetime import date

from hypothesis import example, given, settings, strategies as st

from adapters.cli import main
from adapters.rulefiles import RULESETS_DIR, default_ruleset, load_ruleset
from .helpers import open_ledger
from ledger.beneficiary import Beneficiary
from ledger.months import Month
from ledger.whatif import compare, with_level

from .helpers import REGISTER, REGISTER_2, decisions_file, dump_views, event_count
from .strategies import history

RULES = default_ruleset()
PENSION = load_ruleset(RULESETS_DIR / "whatif-2025-social-pension.toml")


def _facts(hist):
    reg, later = hist
    person = Beneficiary.register(reg, "t")
    for decision in later:
        person.decide(decision, "t")
    return person.facts


def _elder():
    from ledger import citizen_id as cid
    from ledger.decisions import Decision
    return Decision("R", date(2024, 7, 1), "register", cid.make(51, 1944, "F", 1), Month.parse("2021-07"),
                    full_name="X", birth_date=date(1944, 8, 10), sex="F", province_code="051", commune_code="1",
                    categories=("ELDERLY_POOR",), channel="cash", agent_code="A")


_ELDER = _elder()  # 1.5 until 80 in 2024-08, 2.0 from 2024-09


@settings(max_examples=150, deadline=None)
@given(st.lists(history(), min_size=1, max_size=4), st.integers(0, 60))
@example([(_ELDER, [])], 36)  # 2024-07, the month the level rises
def test_a_whatif_with_the_current_rules_changes_nothing(histories, start):
    """Catches: a comparison that takes the rule set's id or lookups cached
    by id into account (a copy with another id must pay the same)."""
    first = Month.parse("2021-07") + start
    people = [_facts(h) for h in histories]
    same = RULES.model_copy(update={"id": "copy"})
    result = compare(people, RULES, same, first, first + 23)
    assert result.changed == [] and result.difference == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(history(), min_size=1, max_size=3), st.integers(500_000, 900_000))
@example([(_ELDER, [])], 500_000)  # the level in force already: nothing changes
@example([(_ELDER, [])], 900_000)
def test_a_higher_level_never_pays_less(histories, level):
    """Catches: a candidate level applied below a province's own higher
    level, or a difference with the sign reversed."""
    first = Month.parse("2025-01")
    result = compare([_facts(h) for h in histories], RULES, with_level(RULES, level, first), first, first + 11)
    assert all(c.candidate >= c.baseline for c in result.changed)
    assert result.difference >= 0


def test_the_social_pension_covers_who_ages_out_and_takes_the_higher_amount():
    from ledger.decisions import Decision
    from ledger import citizen_id as cid

    def person(category, birth):
        born = date.fromisoformat(birth)
        return Beneficiary.register(Decision(
            "R", date(2024, 7, 1), "register", cid.make(51, born.year, "F", 1), Month.parse("2024-07"),
            full_name="X", birth_date=born, sex="F", province_code="051", commune_code="1",
            categories=(category,), channel="cash", agent_code="A"), "t").facts

    mountain = person("ELDERLY_75_MOUNTAIN", "1945-08-15")  # turns 80 in 2025-08: the category ends
    poor = person("ELDERLY_POOR", "1954-03-01")  # 71: allowance 1.5 x 500,000 beats the pension
    result = compare([mountain, poor], RULES, PENSION, Month.parse("2025-07"), Month.parse("2025-12"))
    assert {(c.citizen_id, str(c.month)): (c.baseline, c.candidate) for c in result.changed} == {
        (mountain.citizen_id, m): (0, 500_000) for m in ("2025-09", "2025-10", "2025-11", "2025-12")}


def test_whatif_command_records_nothing(store_url, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-09-01")
    with open_ledger(store_url) as ledger:
        ledger.commands.import_decisions(decisions_file(tmp_path / "d.csv", [REGISTER, REGISTER_2]), "o")
        before = (event_count(ledger), dump_views(ledger.runtime.engine))
    assert main(["--db", store_url, "rules", "whatif", "--level", "600000", "--from", "2025-01",
                 "--to", "2025-03", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) >= {"from", "to", "baseline_total", "candidate_total", "difference", "changed"}
    # ELDERLY_80 (1.0) and an orphan aged 5 (1.5): three months each.
    assert result["difference"] == 3 * (100_000 + 150_000)
    assert {c["citizen_id"] for c in result["changed"]} == {REGISTER["citizen_id"], REGISTER_2["citizen_id"]}
    assert main(["--db", store_url, "rules", "whatif", "--rules",
                 str(RULESETS_DIR / "whatif-2025-social-pension.toml"), "--from", "2025-07", "--json"]) == 0
    capsys.readouterr()
    with open_ledger(store_url) as ledger:
        assert (event_count(ledger), dump_views(ledger.runtime.engine)) == before
    assert main(["--db", store_url, "rules", "whatif", "--rules", str(tmp_path / "missing.toml"),
                 "--from", "2025-07"]) == 1

"""Every pain.001 the ledger writes is valid against the message definition
(tests/schemas/pain.001.001.09-ledger.xsd: the elements the ledger uses, in
the definition's order, multiplicities and types), for every bank profile
and for generated lists; the BIC table holds well-formed Vietnamese BICs."""
from __future__ import annotations

import re
import tempfile
import tomllib
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
import xmlschema
from hypothesis import HealthCheck, given, settings

from adapters.formats import bank_profiles
from adapters.payroll_files import write_payroll_files

from .test_bank_files import AGENT, MONTH, payroll_lines
from .test_payroll_files import DEBTOR, bank_lines

SCHEMA = xmlschema.XMLSchema(Path(__file__).parent / "schemas" / "pain.001.001.09-ledger.xsd")
BANKS = Path(bank_profiles.__file__).parent / "banks"


def pain_of(folder: Path, lines, profile=None, **debtor) -> Path:
    written = write_payroll_files(folder, AGENT, MONTH, "bank", lines, profile=profile, **dict(DEBTOR, **debtor))
    (pain,) = [p for p in written if p.name.endswith(".xml")]
    return pain


def lines_of(agent: str):
    return [replace(x, payroll_id=x.payroll_id.replace("BANK-VBSP-QNG", agent)) for x in bank_lines()]


@pytest.mark.parametrize("name", sorted(p.stem for p in BANKS.glob("*.toml") if p.stem != "bic"))
def test_each_bank_profile_writes_a_valid_file(tmp_path, name):
    profile = bank_profiles.load_profile(name)
    pain = pain_of(tmp_path, lines_of(AGENT), profile,
                   created_at=datetime(2024, 2, 24, 2, 0, tzinfo=timezone.utc))
    SCHEMA.validate(str(pain))


def test_the_schema_catches_what_a_bank_would_refuse(tmp_path):
    pain = pain_of(tmp_path, lines_of(AGENT))
    text = pain.read_text(encoding="utf-8")
    damaged = {
        "an id over 35 characters": text.replace("<EndToEndId>B0001<", f"<EndToEndId>{'B' * 36}<", 1),
        "elements out of order": re.sub(r"(<PmtInfId>[^<]*</PmtInfId>)(\s*)(<PmtMtd>TRF</PmtMtd>)",
                                        r"\3\2\1", text),
        "a currency in lower case": text.replace('Ccy="VND"', 'Ccy="vnd"', 1),
        "a date-time that is not one": re.sub(r"<CreDtTm>[^<]*<", "<CreDtTm>24/02/2024 09:00<", text),
    }
    for what, broken in damaged.items():
        assert broken != text, what
        assert not SCHEMA.is_valid(broken), what


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=payroll_lines())
def test_property_every_written_file_is_valid(lines):
    """Catches: a name or remittance text over 140 characters, an empty
    element, a control sum with a fraction, names that break the XML."""
    if not any(not line.carried for line in lines):
        return  # no transfer, no pain.001
    with tempfile.TemporaryDirectory() as folder:
        for profile in ("vbsp", "agribank"):
            SCHEMA.validate(str(pain_of(Path(folder) / profile, lines, bank_profiles.load_profile(profile))))


def test_the_bic_table_holds_vietnamese_bics():
    """ISO 9362: four letters of the bank, VN, two of the place, an optional
    branch. Checked against the banks' published codes (December 2026)."""
    table = tomllib.loads((BANKS / "bic.toml").read_text(encoding="utf-8"))["bic"]
    assert table
    for code, bic in table.items():
        assert re.fullmatch(r"[A-Z]{4}VN[A-Z0-9]{2}([A-Z0-9]{3})?", bic), (code, bic)
    assert len(set(table.values())) == len(table)  # no two banks share a BIC

"""Damaged files through every importer, from the command line
(``adapters.cli.main``), on a SQLite store that already holds a small
district: registrations, payrolls, results and an overpayment, so that
valid results have lines to match and a valid recovery has a debt to pay.

Each example starts from a valid file of its importer and damages it: bytes
flipped, inserted, deleted or cut off; cells replaced with random text,
formula prefixes, non-ASCII digits, huge numbers, dates in odd formats;
rows cut short, doubled or dropped; XML elements emptied, removed, doubled
or replaced, or the whole document replaced with random XML. Whatever the
file, the command exits 0 (done), 1 (refused) or 64 (usage), never shows a
traceback, and when it refuses, nothing is recorded: the number of stored
events and the audit chain's head are what they were.

FUZZ_EXAMPLES sets the examples per importer (default 25, with the ci
profile's fixed seed); scripts/fuzz.sh runs 1,000 each."""
from __future__ import annotations

import contextlib
import copy
import csv
import io
import json
import os
import shutil
import sqlite3
import xml.etree.ElementTree as ET
import zipfile
from datetime import date, datetime
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.utils.exceptions import IllegalCharacterError

from adapters import synthetic
from tests.writers import write_camt054
from adapters.cli import main
from ledger.months import Month

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
ENV = {"LEDGER_TODAY": "2024-09-20", "LEDGER_ACTOR": "officer-fuzz", "LEDGER_TREASURY_ACCOUNT": "3761201000123"}
BANK = "BANK-VBSP-QNG"
ALLOWED = {0, 1, 64}


def _run(url: str, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, ENV), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["--db", url, *argv])
        except SystemExit as exc:  # argparse's own usage errors
            code = exc.code if isinstance(exc.code, int) else 64
    return code, out.getvalue(), err.getvalue()


def _ok(url: str, *argv: str) -> dict:
    code, out, err = _run(url, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def recorded(db: Path) -> tuple[int, tuple | None]:
    """Events stored and the audit chain's head (position, hash)."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        count = conn.execute("SELECT count(*) FROM stored_events").fetchone()[0]
        head = conn.execute("SELECT position, hash FROM audit_chain ORDER BY position DESC LIMIT 1").fetchone()
    return count, head


# --- the district and its valid files --------------------------------------------

def _rows(path) -> list[dict]:
    return synthetic.read_payroll_csv(path)


def _build_district(folder: Path) -> dict[str, Path]:
    """A store with eight people (five paid in cash by the post office, three
    by the bank), payrolls for July to September, July's bank results, August's
    and a death that makes August's transfer an overpayment; and one valid,
    not yet imported file per importer."""
    db = folder / "ledger.db"
    url = f"sqlite:///{db}"
    people = synthetic.registrations(8, seed=3, first=Month.parse("2024-07"), months_count=1)
    for n, row in enumerate(people[5:]):
        row.update(channel="bank", agent_code=BANK, bank_account=f"01234567{n:02d}", home_delivery="")
    registered = synthetic.write_csv(folder / "registered.csv", people)
    _ok(url, "import", "decisions", str(registered))
    files = {}

    def payroll(month: str) -> dict[str, list[dict]]:
        summary = _ok(url, "payroll", "run", "--month", month, "--out", str(folder / "out"))
        return {("bank" if BANK in f else "post"): _rows(f) for f in summary["files"] if f.endswith(".csv")}

    def bank_results(rows: list[dict], month: str) -> list[dict]:
        return [dict(payroll_id=r["payroll_id"], line_id=r["line_id"], status="credited", booked_on=f"{month}-05",
                     amount=r["amount"], reason_code="") for r in rows]

    july = payroll("2024-07")
    for month in ("2024-07", "2024-08"):
        lines = july["bank"] if month == "2024-07" else payroll(month)["bank"]
        path = synthetic.write_csv(folder / f"bank-{month}.csv", bank_results(lines, month),
                                   synthetic.BANK_RESULT_COLUMNS)
        _ok(url, "import", "bank", str(path))
    dead = people[5]["citizen_id"]
    notice = [dict(notice_id="CR-1", citizen_id=dead, date_of_death="2024-07-20", source="civil_registry",
                   reported_on="2024-08-28", document_no="TK-1", funeral_arranged_by="Nguyễn Văn Con")]
    _ok(url, "import", "deaths", str(synthetic.write_csv(folder / "dead.csv", notice, synthetic.DEATH_COLUMNS)))
    shown = _ok(url, "beneficiary", "show", dead)
    assert shown["overpayment_open"] > 0, shown
    september = payroll("2024-09")

    # Valid files, not imported: the fuzz starts from these.
    newcomers = synthetic.registrations(4, seed=44, first=Month.parse("2024-09"), months_count=1)
    known = {p["citizen_id"] for p in people}
    newcomers = [dict(r, decision_no=f"{n}/QĐ-FUZZ") for n, r in enumerate(newcomers) if r["citizen_id"] not in known]
    files["decisions"] = synthetic.write_csv(folder / "decisions.csv", newcomers)
    files["decisions_xlsx"] = _xlsx(folder / "decisions.xlsx", newcomers, synthetic.DECISION_COLUMNS)
    files["deaths"] = synthetic.write_csv(folder / "deaths.csv", [dict(
        notice_id="CM-2", citizen_id=people[0]["citizen_id"], date_of_death="2024-09-02", source="commune",
        reported_on="2024-09-10", document_no="", funeral_arranged_by="Trần Thị Cháu")], synthetic.DEATH_COLUMNS)
    files["recoveries"] = synthetic.write_csv(folder / "recoveries.csv", [
        dict(receipt_no="PT-001", citizen_id=dead, amount="250.000", paid_on="15/09/2024", paid_by="Nguyễn Văn Con",
             method="cash"),
        dict(receipt_no="PT-002", citizen_id=dead, amount="100000", paid_on="2024-09-16", paid_by="office",
             method="write_off", decision_no="12/QĐ-UBND", reason="hardship")],
        ("receipt_no", "citizen_id", "amount", "paid_on", "paid_by", "method", "decision_no", "reason"))
    files["postoffice"] = synthetic.write_csv(
        folder / "postoffice.csv", synthetic.postoffice_results(july["post"], "2024-07", seed=1),
        synthetic.POSTOFFICE_RESULT_COLUMNS)
    bank = bank_results(september["bank"], "2024-09")
    bank[-1].update(status="rejected", reason_code="AC04")
    files["bank"] = synthetic.write_csv(folder / "bank.csv", bank, synthetic.BANK_RESULT_COLUMNS)
    files["camt"] = write_camt054(folder / "bank.xml", bank, agent_code=BANK, month="2024-09",
                                  created_at=datetime(2024, 9, 6, 9, 0))
    return files


def _xlsx(path: Path, rows: list[dict], columns, cell=lambda value: value) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(columns))
    for row in rows:
        sheet.append([cell(row.get(c) or None) for c in columns])
    workbook.save(path)
    return path


IMPORTERS = {  # name: (command, file kind)
    "decisions": ("decisions", "csv"),
    "decisions_xlsx": ("decisions", "xlsx"),
    "deaths": ("deaths", "csv"),
    "recoveries": ("recoveries", "csv"),
    "postoffice": ("postoffice", "csv"),
    "bank": ("bank", "csv"),
    "camt": ("bank", "xml"),
}


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    folder = tmp_path_factory.mktemp("district")
    files = _build_district(folder)
    template = folder / "ledger.db"
    # Each valid file is accepted whole by a fresh copy of the district.
    for name, (command, _) in IMPORTERS.items():
        trial = tmp_path_factory.mktemp("valid") / "ledger.db"
        shutil.copyfile(template, trial)
        before = recorded(trial)
        result = _ok(f"sqlite:///{trial}", "import", command, str(files[name]))
        assert recorded(trial)[0] > before[0], (name, result)
    return template, files


# --- damage ---------------------------------------------------------------------------

NON_ASCII_DIGITS = "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹०१२३४५६७८९０１２３４５６７８９𝟎𝟏𝟐𝟑¹²³½"
ODD_DATES = ["2024/07/05", "05.07.2024", "5-7-24", "July 5, 2024", "45478", "1720137600", "2024-07-05T00:00:00Z",
             "31/02/2024", "00/00/0000", "29/02/2023", "2024-7-5", "05/07/24", "9999-12-31", "0001-01-01",
             "2024-W27", "13/2024", "2024-00", "07/2024", "2024-09", "１５/０９/２０２４", "2024-07-05 10:30"]
HUGE_NUMBERS = ["9" * 40, "1e308", "-1", "0", "1" + "0" * 15, "999.999.999.999.999.999", "NaN", "inf", "-0",
                "1,5", "1.5", "0x10", "500 000", "500.000,00", "٥٠٠٠٠٠", "２５００００", "+500000", "1_000"]
FORMULA = st.sampled_from(["=", "+", "-", "@", "\t", "\r", "=cmd|' /C calc'!A0", "=HYPERLINK(\"http://x\")",
                           "@SUM(1+1)", "-2+3"])


def nasty_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=30),
        st.builds(lambda prefix, rest: prefix + rest, FORMULA, st.text(max_size=10)),
        st.text(alphabet=NON_ASCII_DIGITS + "0123456789", min_size=1, max_size=14),
        st.sampled_from(HUGE_NUMBERS),
        st.sampled_from(ODD_DATES),
        st.integers(min_value=-10**30, max_value=10**30).map(str),
        st.sampled_from(["", " ", "\x00", "\ufeff", "'", '"', "\n", "\r\n", "x" * 140_000, "credited", "paid",
                         "rejected", "unpaid", "cash", "write_off", "register", "ORPHAN", "AC04", "MD07"]),
    )


def nasty_cell() -> st.SearchStrategy:
    """For .xlsx cells, typed values as well as text."""
    return st.one_of(nasty_text().map(lambda t: t.replace("\x00", "")[:32_000]),
                     st.integers(min_value=-2**62, max_value=2**62),
                     st.floats(allow_nan=True, allow_infinity=True),
                     st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),
                     st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)), st.booleans())


@st.composite
def damaged_bytes(draw, data: bytes) -> bytes:
    """1 to 4 byte-level mutations: flip, insert, delete, truncate."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "overwrite"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 32))]
        elif kind == "truncate":
            del data[at:]
        else:
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[at:at + len(chunk)] = chunk
    return bytes(data)


@st.composite
def damaged_table(draw, rows: list[list]) -> list[list]:
    """1 to 4 table mutations on the header and the rows (cells replaced,
    rows cut short, lengthened, doubled, dropped, swapped)."""
    rows = [list(r) for r in rows]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["cell", "cell", "cell", "header", "short", "long", "double", "drop", "swap",
                                     "blank"]))
        i = draw(st.integers(0, len(rows) - 1)) if rows else 0
        if not rows:
            rows.append([draw(nasty_text())])
        elif kind in ("cell", "header"):
            if kind == "header":
                i = 0
            if rows[i]:
                rows[i][draw(st.integers(0, len(rows[i]) - 1))] = draw(nasty_text())
        elif kind == "short":
            del rows[i][draw(st.integers(0, len(rows[i]))):]
        elif kind == "long":
            rows[i].extend(draw(st.lists(nasty_text(), min_size=1, max_size=3)))
        elif kind == "double":
            rows.insert(i, list(rows[i]))
        elif kind == "drop":
            del rows[i]
        elif kind == "swap":
            j = draw(st.integers(0, len(rows) - 1))
            rows[i], rows[j] = rows[j], rows[i]
        else:
            rows.insert(i, [])
    return rows


def _csv_bytes(rows: list[list], delimiter: str, encoding: str) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding, errors="replace")


@st.composite
def damaged_csv(draw, path: Path) -> bytes:
    original = path.read_bytes()
    table = list(csv.reader(io.StringIO(original.decode("utf-8"))))
    way = draw(st.sampled_from(["bytes", "table", "table", "both"]))
    if way == "bytes":
        return draw(damaged_bytes(original))
    data = _csv_bytes(draw(damaged_table(table)), draw(st.sampled_from([",", ";", "\t"])),
                      draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "cp1258"])))
    return draw(damaged_bytes(data)) if way == "both" else data


@st.composite
def damaged_xlsx(draw, path: Path) -> bytes:
    original = path.read_bytes()
    way = draw(st.sampled_from(["cells", "cells", "bytes", "member"]))
    if way == "bytes":
        return draw(damaged_bytes(original))
    if way == "member":  # one part of the package damaged, the package itself intact
        with zipfile.ZipFile(io.BytesIO(original)) as source:
            members = {info.filename: source.read(info) for info in source.infolist()}
        name = draw(st.sampled_from(sorted(members)))
        members[name] = draw(st.one_of(damaged_bytes(members[name]), random_xml()))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
            for member, content in members.items():
                target.writestr(member, content)
        return out.getvalue()
    with zipfile.ZipFile(io.BytesIO(original)):
        pass
    rows = [list(synthetic.DECISION_COLUMNS)] + [
        [r.get(c) or None for c in synthetic.DECISION_COLUMNS]
        for r in csv.DictReader(io.StringIO(DECISIONS_CSV[path].decode("utf-8")))]
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(rows) - 1))
        kind = draw(st.sampled_from(["cell", "cell", "short", "long", "drop", "double"]))
        if kind == "cell":
            rows[i][draw(st.integers(0, len(rows[i]) - 1))] = draw(nasty_cell())
        elif kind == "short":
            rows[i] = rows[i][:draw(st.integers(0, len(rows[i])))]
        elif kind == "long":
            rows[i] = rows[i] + [draw(nasty_cell())]
        elif kind == "drop" and len(rows) > 1:
            del rows[i]
        else:
            rows.insert(i, list(rows[i]))
    workbook = Workbook()
    sheet = workbook.active
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            if value is not None:
                try:
                    sheet.cell(row=r, column=c, value=value)
                except (ValueError, IllegalCharacterError):  # openpyxl refuses some characters itself
                    sheet.cell(row=r, column=c, value=repr(value))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


DECISIONS_CSV: dict[Path, bytes] = {}  # the .xlsx file -> the CSV it was made from

_XML_TAGS = ["Document", "BkToCstmrDbtCdtNtfctn", "GrpHdr", "MsgId", "Ntfctn", "Ntry", "Amt", "CdtDbtInd", "Sts",
             "Cd", "BookgDt", "Dt", "NtryDtls", "TxDtls", "Refs", "EndToEndId", "RtrInf", "Rsn", "x", "script"]


@st.composite
def random_xml(draw) -> bytes:
    def element(depth: int) -> str:
        tag = draw(st.sampled_from(_XML_TAGS))
        attrs = "".join(f' {draw(st.sampled_from(["Ccy", "xmlns", "a"]))}="{draw(st.sampled_from(["VND", "USD", "", "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"]))}"'
                        for _ in range(draw(st.integers(0, 1))))
        if depth > 3 or draw(st.booleans()):
            text = draw(nasty_text()).replace("&", "&amp;").replace("<", "&lt;")
            return f"<{tag}{attrs}>{text}</{tag}>"
        return f"<{tag}{attrs}>" + "".join(element(depth + 1) for _ in range(draw(st.integers(0, 3)))) + f"</{tag}>"

    prolog = draw(st.sampled_from(["", '<?xml version="1.0" encoding="UTF-8"?>',
                                   '<!DOCTYPE d [<!ENTITY e "x">]>', '<?xml version="1.0" encoding="UTF-16"?>']))
    return (prolog + element(0)).encode("utf-8", errors="replace")


@st.composite
def damaged_xml(draw, path: Path) -> bytes:
    original = path.read_bytes()
    way = draw(st.sampled_from(["bytes", "elements", "elements", "elements", "random"]))
    if way == "bytes":
        return draw(damaged_bytes(original))
    if way == "random":
        return draw(random_xml())
    root = ET.fromstring(original)
    for _ in range(draw(st.integers(1, 4))):
        elements = list(root.iter())
        target = draw(st.sampled_from(elements))
        kind = draw(st.sampled_from(["text", "text", "remove", "double", "insert"]))
        parent = next((p for p in elements if target in list(p)), None)
        if kind == "text" or parent is None:
            target.text = draw(nasty_text()).replace("\x00", "").replace("\r", "")
        elif kind == "remove":
            parent.remove(target)
        elif kind == "double":
            parent.insert(list(parent).index(target), copy.deepcopy(target))
        else:  # a random element inside this one (a random XML fragment; its text when that is not XML)
            fragment = draw(random_xml()).split(b"?>")[-1].split(b"]>")[-1]
            try:
                target.append(ET.fromstring(fragment))
            except ET.ParseError:
                target.text = fragment.decode("utf-8")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def damaged(name: str, path: Path) -> st.SearchStrategy[bytes]:
    kind = IMPORTERS[name][1]
    if kind == "xlsx":
        return damaged_xlsx(path)
    if kind == "xml":
        return damaged_xml(path)
    return damaged_csv(path)


# --- the property ----------------------------------------------------------------------

TALLY: dict[int, int] = {}  # exit code -> examples, printed per importer (pytest -s)


def check_import(template: Path, command: str, suffix: str, content: bytes, work: Path) -> None:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    db = work / "ledger.db"
    shutil.copyfile(template, db)
    path = work / f"input.{suffix}"
    path.write_bytes(content)
    before = recorded(db)
    code, out, err = _run(f"sqlite:///{db}", "import", command, str(path))
    assert "Traceback" not in out and "Traceback" not in err, err
    assert code in ALLOWED, (code, err)
    TALLY[code] = TALLY.get(code, 0) + 1
    if code != 0:
        assert recorded(db) == before, (code, err)


@pytest.mark.parametrize("name", list(IMPORTERS))
def test_a_damaged_file_is_recorded_whole_or_refused_without_a_traceback(district, name, tmp_path_factory):
    template, files = district
    command, suffix = IMPORTERS[name]
    if suffix == "xlsx":
        DECISIONS_CSV[files[name]] = files["decisions"].read_bytes()
    work = tmp_path_factory.mktemp(f"fuzz-{name}")

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(content=damaged(name, files[name]))
    def fuzz(content: bytes) -> None:
        check_import(template, command, suffix, content, work / "example")

    TALLY.clear()
    fuzz()
    print(f"\n{name}: {sum(TALLY.values())} examples, exit codes {dict(sorted(TALLY.items()))}")

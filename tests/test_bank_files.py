"""A bank's camt.054 notification read as bank-result rows, with the line of
every transaction; and the payroll-to-bank round trip as a property."""
from __future__ import annotations

import re
import tempfile
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.formats.camt import COLUMNS, read_camt054
from adapters.formats.payroll_list import PayrollFileLine
from adapters.payroll_files import write_payroll_files
from adapters.tabular import InputRejected

from .writers import write_camt054

AGENT, MONTH = "BANK-VBSP-QNG", "2024-03"
PAYROLL_ID = f"{AGENT}/{MONTH}"
CREATED_AT = datetime(2024, 3, 8, 16, 0)

RESULTS = [
    dict(line_id="B0001", status="credited", booked_on="2024-03-05", amount="500000", reason_code=""),
    dict(line_id="B0002", status="rejected", booked_on="2024-03-06", amount="2250000",
         reason_code="MD07"),
    dict(line_id="B0003", status="rejected", booked_on="2024-03-06", amount="360000",
         reason_code="AC04"),
    dict(line_id="B0004", status="credited", booked_on="2024-03-05", amount="1500000", reason_code=""),
]


def write(path: Path, rows=RESULTS) -> Path:
    return write_camt054(path, rows, agent_code=AGENT, month=MONTH, created_at=CREATED_AT)


def rejection(path: Path) -> str:
    with pytest.raises(InputRejected) as caught:
        read_camt054(path)
    return str(caught.value)


# --- round trip -------------------------------------------------------------

def test_write_then_read_gives_the_rows(tmp_path):
    table = read_camt054(write(tmp_path / "camt.xml"))
    assert table.header == list(COLUMNS)
    assert [row.cells for row in table.rows] == [dict(payroll_id=PAYROLL_ID, **r) for r in RESULTS]


def test_row_lines_are_the_transactions_lines(tmp_path):
    path = write(tmp_path / "camt.xml")
    text_lines = path.read_text(encoding="utf-8").splitlines()
    lines = [row.line for row in read_camt054(path).rows]
    assert lines == sorted(set(lines))  # increasing with position in the file
    assert all(text_lines[n - 1].strip() == "<TxDtls>" for n in lines)


def test_rejections_carry_their_reason_codes(tmp_path):
    rows = read_camt054(write(tmp_path / "camt.xml")).rows
    assert {r.cells["line_id"]: (r.cells["status"], r.cells["reason_code"]) for r in rows} == {
        "B0001": ("credited", ""), "B0002": ("rejected", "MD07"),
        "B0003": ("rejected", "AC04"), "B0004": ("credited", "")}


def test_writing_is_deterministic(tmp_path):
    assert write(tmp_path / "a.xml").read_bytes() == write(tmp_path / "b.xml").read_bytes()
    other = write(tmp_path / "c.xml", RESULTS[:2]).read_bytes()
    root = ET.fromstring(other)
    ids = [e.text for e in root.iter() if e.tag.endswith("MsgId")]
    assert ids and ids[0] not in write(tmp_path / "a.xml").read_text()  # new content, new id


def test_writer_refuses_rows_that_are_not_results(tmp_path):
    for bad in (dict(RESULTS[0], status="paid"), dict(RESULTS[1], reason_code=""),
                dict(RESULTS[0], reason_code="AC01"), dict(RESULTS[0], amount="12.5"),
                dict(RESULTS[0], amount="0"), dict(RESULTS[0], booked_on="5/3/2024"),
                dict(RESULTS[0], line_id="")):
        with pytest.raises(ValueError):
            write(tmp_path / "x.xml", [bad])
    assert not (tmp_path / "x.xml").exists()


# --- what banks send --------------------------------------------------------

OLD_STYLE = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">
 <BkToCstmrDbtCdtNtfctn>
  <GrpHdr><MsgId>N1</MsgId><CreDtTm>2024-03-08T09:00:00+07:00</CreDtTm></GrpHdr>
  <Ntfctn>
   <Id>N1</Id>
   <Acct><Id><Othr><Id>3761201000123</Id></Othr></Id></Acct>
   <Ntry>
    <NtryRef>20240305-000017</NtryRef>
    <Amt Ccy="VND">2000000.00</Amt>
    <CdtDbtInd>DBIT</CdtDbtInd>
    <Sts>BOOK</Sts>
    <BookgDt><DtTm>2024-03-05T23:10:00+07:00</DtTm></BookgDt>
    <AcctSvcrRef>BANK-VBSP-QNG/2024-03</AcctSvcrRef>
    <NtryDtls>
     <TxDtls>
      <Refs><EndToEndId>B0001</EndToEndId></Refs>
      <AmtDtls><TxAmt><Amt Ccy="VND">500000</Amt></TxAmt></AmtDtls>
     </TxDtls>
     <TxDtls>
      <Refs><EndToEndId>B0004</EndToEndId></Refs>
      <AmtDtls><TxAmt><Amt Ccy="VND">1500000.00</Amt></TxAmt></AmtDtls>
     </TxDtls>
    </NtryDtls>
   </Ntry>
   <Ntry>
    <Amt Ccy="VND">11000</Amt>
    <CdtDbtInd>DBIT</CdtDbtInd>
    <Sts>BOOK</Sts>
    <BookgDt><Dt>2024-03-05</Dt></BookgDt>
   </Ntry>
   <Ntry>
    <Amt Ccy="VND">360000</Amt>
    <CdtDbtInd>CRDT</CdtDbtInd>
    <Sts>BOOK</Sts>
    <BookgDt><Dt>2024-03-07</Dt></BookgDt>
    <NtryDtls><TxDtls>
     <Refs><EndToEndId>B0003</EndToEndId></Refs>
     <RtrInf><Rsn><Cd>AC04</Cd></Rsn><AddtlInf>Tai khoan da dong</AddtlInf></RtrInf>
    </TxDtls></NtryDtls>
   </Ntry>
  </Ntfctn>
 </BkToCstmrDbtCdtNtfctn>
</Document>
"""


def test_an_older_version_with_a_batch_entry(tmp_path):
    path = tmp_path / "old.xml"
    path.write_text(OLD_STYLE, encoding="utf-8")
    rows = read_camt054(path).rows
    assert [(r.line, r.cells) for r in rows] == [
        (16, dict(payroll_id=PAYROLL_ID, line_id="B0001", status="credited",
                  booked_on="2024-03-05", amount="500000", reason_code="")),
        (20, dict(payroll_id=PAYROLL_ID, line_id="B0004", status="credited",
                  booked_on="2024-03-05", amount="1500000", reason_code="")),
        # The fee entry has no details and gives no row; this return has no
        # reference shaped like a payroll id, and its amount is the entry's.
        (37, dict(payroll_id="", line_id="B0003", status="rejected",
                  booked_on="2024-03-07", amount="360000", reason_code="AC04")),
    ]


def test_every_accepted_version_is_read(tmp_path):
    text = write(tmp_path / "camt.xml").read_text(encoding="utf-8")
    for version in ("02", "05", "08", "10", "13"):
        path = tmp_path / f"v{version}.xml"
        path.write_text(text.replace("camt.054.001.08", f"camt.054.001.{version}"), encoding="utf-8")
        assert len(read_camt054(path).rows) == len(RESULTS)


def test_a_malformed_file_names_file_line_and_column(tmp_path):
    path = tmp_path / "broken.xml"
    text = write(path).read_text(encoding="utf-8").splitlines()
    text[40] = "      <Oops>" + text[40]   # never closed: the parent's end tag mismatches
    path.write_text("\n".join(text), encoding="utf-8")
    found = re.match(rf"^{re.escape(str(path))}:(\d+):(\d+): malformed XML: mismatched tag",
                     rejection(path))
    assert found and int(found.group(1)) > 41 and int(found.group(2)) >= 1


def test_a_malformed_file_exact_position(tmp_path):
    path = tmp_path / "cut.xml"
    path.write_text('<?xml version="1.0"?>\n<Document>\n  <a></b>\n</Document>\n', encoding="utf-8")
    assert rejection(path).startswith(f"{path}:3:8: malformed XML: mismatched tag")


def test_a_fractional_amount_is_refused_at_its_element(tmp_path):
    path = tmp_path / "camt.xml"
    text = write(path).read_text(encoding="utf-8")
    path.write_text(text.replace(">500000</Amt>", ">500000.50</Amt>"), encoding="utf-8")
    message = rejection(path)
    # The entry's amount, then the transaction's: the transaction's is the one read.
    lines = [n for n, t in enumerate(text.splitlines(), start=1) if ">500000</Amt>" in t]
    assert message == f"{path}:{lines[1]}:13: amount '500000.50' is not a whole number of VND"


@pytest.mark.parametrize("change, expected", [
    (('Ccy="VND"', 'Ccy="USD"'), "expected VND"),
    (("<Cd>BOOK</Cd>", "<Cd>PDNG</Cd>"), "'PDNG' is not final"),
    (("<Cd>MD07</Cd>", ""), "without a reason code"),
    (("camt.054.001.08", "camt.052.001.08"), "not a camt.054 notification"),
    (("camt.054.001.08", "camt.054.001.14"), "not a camt.054 notification"),
    (("camt.054.001.08", "camt.053.001.08"), "no BkToCstmrStmt"),
    (("<Dt>2024-03-05</Dt>", "<Dt>2024-02-30</Dt>"), "not YYYY-MM-DD"),
    (("<Dt>2024-03-05</Dt>", "<Dt>20240305</Dt>"), "not YYYY-MM-DD"),
    ((">500000</Amt>", ">5E+5</Amt>"), "not a whole number of VND"),
    ((">500000</Amt>", ">-500000</Amt>"), "not a whole number of VND"),
])
def test_other_problems_reject_the_file(tmp_path, change, expected):
    path = tmp_path / "camt.xml"
    text = write(path).read_text(encoding="utf-8")
    path.write_text(text.replace(*change), encoding="utf-8")
    message = rejection(path)
    assert message.startswith(f"{path}:") and expected in message


def test_a_document_type_declaration_is_refused(tmp_path):
    path = tmp_path / "dtd.xml"
    text = write(path).read_text(encoding="utf-8")
    path.write_text(text.replace("\n", '\n<!DOCTYPE Document [<!ENTITY x "y">]>\n', 1),
                    encoding="utf-8")
    assert re.match(rf"^{re.escape(str(path))}:2:\d+: a document type declaration", rejection(path))


def test_a_missing_file_is_a_rejection(tmp_path):
    assert rejection(tmp_path / "none.xml").startswith(f"{tmp_path / 'none.xml'}:1:1: cannot read")


# --- property: a payroll sent and answered ----------------------------------

VIETNAMESE_LETTERS = "aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
name_word = st.text(VIETNAMESE_LETTERS, min_size=1, max_size=7).map(str.capitalize)
names = st.lists(name_word, min_size=2, max_size=4).map(" ".join)


@st.composite
def payroll_lines(draw) -> list[PayrollFileLine]:
    count = draw(st.integers(0, 12))
    lines = []
    for index in range(count):
        carried = draw(st.booleans())
        name = draw(names)
        lines.append(PayrollFileLine(
            payroll_id=f"{AGENT}/{'2024-01' if carried else MONTH}", line_id=f"L{index:05d}",
            citizen_id="051044001234", full_name=name, commune_code="51101",
            months=tuple(draw(st.lists(st.sampled_from(["2023-12", "2024-01", "2024-02", MONTH]),
                                       min_size=1, max_size=4, unique=True))),
            kind=draw(st.sampled_from(["allowance", "arrears", "funeral_support"])),
            amount=draw(st.integers(1, 50_000_000)),
            receiver=draw(st.one_of(st.just(name), names)),
            bank_account=str(draw(st.integers(10**9, 10**12 - 1))),
            home_delivery=False, carried=carried,
        ))
    return lines


@st.composite
def answers(draw, lines: list[PayrollFileLine]) -> list[dict]:
    rows = []
    for line in lines:
        if line.carried:
            continue
        reason = draw(st.sampled_from(["", "", "AC01", "AC04", "MD07"]))
        rows.append(dict(line_id=line.line_id, status="rejected" if reason else "credited",
                         booked_on=f"2024-03-{draw(st.integers(1, 28)):02d}",
                         amount=str(line.amount), reason_code=reason))
    return rows


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_property_payroll_control_sum_and_camt_round_trip(data):
    """Catches: carried lines (already advanced last month) counted in the
    pain.001 control sum, a list with only carried lines writing an empty
    pain.001, or Vietnamese names and reason codes lost in the camt.054."""
    lines = data.draw(payroll_lines())
    rows = data.draw(answers(lines))
    with tempfile.TemporaryDirectory() as folder:
        written = write_payroll_files(Path(folder), AGENT, MONTH, "bank", lines,
                                      debtor_name="Phòng LĐ-TB&XH", debtor_account="3761",
                                      created_at=CREATED_AT)
        new_vnd = sum(line.amount for line in lines if not line.carried)
        if rows:
            root = ET.parse(written[1]).getroot()
            sums = [e.text for e in root.iter() if e.tag.endswith("}CtrlSum")]
            assert sums == [str(new_vnd)] * 2
        else:
            assert len(written) == 1  # nothing to transfer, no pain.001
        table = read_camt054(write_camt054(Path(folder) / "camt.xml", rows, agent_code=AGENT,
                                           month=MONTH, created_at=CREATED_AT))
    assert [row.cells for row in table.rows] == [dict(payroll_id=PAYROLL_ID, **r) for r in rows]
    assert sum(int(row.cells["amount"]) for row in table.rows) == new_vnd


def test_entries_that_are_not_ours_are_listed_and_ignored(tmp_path):
    path = tmp_path / "camt.xml"
    text = write(path).read_text(encoding="utf-8")
    # A line without an end-to-end id, and money coming in that is no return.
    text = text.replace("<EndToEndId>B0001</EndToEndId>", "<EndToEndId>NOTPROVIDED</EndToEndId>")
    path.write_text(text, encoding="utf-8")
    table = read_camt054(path)
    assert [r.cells["line_id"] for r in table.rows] == ["B0002", "B0003", "B0004"]
    assert len(table.ignored) == 1 and "not a payroll transfer" in table.ignored[0]


def test_a_reversal_is_a_return_with_its_reason(tmp_path):
    path = tmp_path / "camt.xml"
    text = write(path, RESULTS[:1]).read_text(encoding="utf-8")
    reversed_entry = text.replace("<CdtDbtInd>DBIT</CdtDbtInd>\n        <Sts>",
                                  "<CdtDbtInd>DBIT</CdtDbtInd>\n        <RvslInd>true</RvslInd>\n        <Sts>", 1)
    assert reversed_entry != text
    path.write_text(reversed_entry, encoding="utf-8")
    assert "without a reason code" in rejection(path)
    with_reason = reversed_entry.replace("</TxDtls>", "<RtrInf><Rsn><Cd>AC04</Cd></Rsn></RtrInf></TxDtls>")
    path.write_text(with_reason, encoding="utf-8")
    [row] = read_camt054(path).rows
    assert (row.cells["status"], row.cells["reason_code"]) == ("rejected", "AC04")


def test_a_statement_is_read_like_a_notification(tmp_path):
    path = tmp_path / "camt053.xml"
    text = write(path).read_text(encoding="utf-8")
    statement = (text.replace("camt.054.001.08", "camt.053.001.10")
                 .replace("BkToCstmrDbtCdtNtfctn", "BkToCstmrStmt").replace("Ntfctn>", "Stmt>"))
    path.write_text(statement, encoding="utf-8")
    assert [row.cells for row in read_camt054(path).rows] == [dict(payroll_id=PAYROLL_ID, **r) for r in RESULTS]

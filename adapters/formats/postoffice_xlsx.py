"""The post office's data list as an .xlsx: the payroll list's columns
under Vietnamese titles, a column to sign in, and a summary sheet. It is a
plain table, so the post office can fill in the results and send the same
file back (postoffice_results.py reads it by its titles)."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ..files import Staging, open_new, stable_xlsx
from .payroll_list import (
    COLUMNS, POSTOFFICE_XLSX_HEADERS, SIGNATURE_COLUMN, SIGNATURE_TITLE, SUMMARY_SHEET, ListTotals,
    PayrollFileLine, csv_cells,
)

# Characters wide per column, so that full Vietnamese names fit on screen and paper.
_XLSX_WIDTHS = {
    "payroll_id": 22, "line_id": 14, "citizen_id": 15, "full_name": 28, "commune_code": 9,
    "months": 18, "kind": 15, "amount": 15, "receiver": 28, "bank_account": 18,
    "home_delivery": 12, SIGNATURE_COLUMN: 20,
}
_VND_FORMAT = "#,##0"


class XlsxList:
    """The post office's printable list. XlsxWriter in constant-memory mode
    streams each row to disk: a list of any length in flat memory."""

    def __init__(self, staging: Staging, target: Path, agent_code: str, month: str,
                 created_at: datetime) -> None:
        import xlsxwriter

        self.draft, self.path = staging.draft(target), staging.add(target)
        self.agent_code, self.month, self.created_at = agent_code, month, created_at
        self.workbook = xlsxwriter.Workbook(str(self.draft), {
            "constant_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
            "strings_to_urls": False})
        self.workbook.set_properties({"created": created_at.replace(tzinfo=None)})
        self.bold = self.workbook.add_format({"bold": True})
        self.vnd = self.workbook.add_format({"num_format": _VND_FORMAT})
        self.sheet = self.workbook.add_worksheet(f"Bảng kê {month}")
        self.row = 0
        self._header()

    def _header(self) -> None:
        """A plain table (header in row 1, no title block, no total row) so
        the same reader that reads the CSV reads this sheet."""
        names = [*COLUMNS, SIGNATURE_COLUMN]
        for index, name in enumerate(names):
            self.sheet.set_column(index, index, _XLSX_WIDTHS[name])
        self.sheet.freeze_panes(1, 0)
        self.sheet.write_row(0, 0, [POSTOFFICE_XLSX_HEADERS[n] for n in COLUMNS] + [SIGNATURE_TITLE],
                             self.bold)

    def add(self, line: PayrollFileLine) -> None:
        self.row += 1
        cells = csv_cells(line)
        for column, name in enumerate(COLUMNS):
            if name == "amount":
                self.sheet.write_number(self.row, column, line.amount, self.vnd)
            else:
                # Text cells, always: ids keep their leading zero, and a name
                # typed as "=..." prints as text instead of running as a formula.
                self.sheet.write_string(self.row, column, cells[name])

    def close(self, totals: ListTotals) -> None:
        _fill_summary_sheet(self.workbook.add_worksheet(SUMMARY_SHEET), self.agent_code, self.month,
                            totals, self.bold, self.vnd)
        self.workbook.close()
        with open_new(self.path) as handle:
            stable_xlsx(self.draft, handle, self.created_at)
        self.draft.unlink()

    def discard(self) -> None:
        pass  # nothing is on disk before close(); the rows' scratch files go with the workbook


def _fill_summary_sheet(sheet, agent_code: str, month: str, totals: ListTotals, bold, vnd) -> None:
    rows = [
        ("Đơn vị chi trả", agent_code),
        ("Tháng", month),
        ("Số dòng", totals.new_count + totals.carried_count),
        ("Số dòng chuyển từ kỳ trước", totals.carried_count),
        ("Tổng số tiền (đồng)", totals.new_vnd + totals.carried_vnd),
        ("Số tiền kỳ này (đồng)", totals.new_vnd),
    ]
    sheet.set_column(0, 0, 30)
    sheet.set_column(1, 1, 22)
    for row, (label, value) in enumerate(rows):
        sheet.write_string(row, 0, label, bold)
        if isinstance(value, int):
            sheet.write_number(row, 1, value, vnd)
        else:
            sheet.write_string(row, 1, value)

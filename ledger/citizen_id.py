"""The 12-digit citizen id (CCCD): PPP G YY NNNNNN.

PPP is the province of birth registration, G a century/sex digit
(0/1 = 1900s male/female, 2/3 = 2000s, 4/5 = 2100s, ...), YY the last two
digits of the birth year. There is no check digit, so validation is the format
and its consistency with the birth year and sex a decision states.
"""
from __future__ import annotations

from datetime import date

# Century/sex digit -> (first year of the century, sex).
_CENTURY_SEX = {
    "0": (1900, "M"), "1": (1900, "F"),
    "2": (2000, "M"), "3": (2000, "F"),
    "4": (2100, "M"), "5": (2100, "F"),
    "6": (2200, "M"), "7": (2200, "F"),
    "8": (1800, "M"), "9": (1800, "F"),
}


class CitizenIdError(ValueError):
    pass


def check_format(citizen_id: str) -> str:
    """Return the id if it is 12 digits with a known province code."""
    if len(citizen_id) != 12 or not (citizen_id.isascii() and citizen_id.isdigit()):
        raise CitizenIdError(f"citizen id must be 12 digits, got {citizen_id!r}")
    province = int(citizen_id[:3])
    if not 1 <= province <= 96:
        raise CitizenIdError(
            f"citizen id {citizen_id}: province code {citizen_id[:3]} is not 001-096"
        )
    return citizen_id


def birth_year_and_sex(citizen_id: str) -> tuple[int, str]:
    check_format(citizen_id)
    century, sex = _CENTURY_SEX[citizen_id[3]]
    return century + int(citizen_id[4:6]), sex


def check_consistent(citizen_id: str, birth_date: date, sex: str) -> None:
    """Raise if the id's century/sex digit and year disagree with the row."""
    year, id_sex = birth_year_and_sex(citizen_id)
    if year != birth_date.year:
        raise CitizenIdError(
            f"citizen id {citizen_id} encodes birth year {year}, "
            f"but birth_date is {birth_date.isoformat()}"
        )
    if id_sex != sex:
        raise CitizenIdError(
            f"citizen id {citizen_id} encodes sex {id_sex}, but sex is {sex}"
        )


def make(province: int, birth_year: int, sex: str, serial: int) -> str:
    """Build a valid id (for generators and tests)."""
    century = birth_year - birth_year % 100
    digit = next(d for d, (c, s) in _CENTURY_SEX.items() if c == century and s == sex)
    return f"{province:03d}{digit}{birth_year % 100:02d}{serial:06d}"

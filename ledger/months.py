"""A calendar month as a small value type: entitlement accrues per month."""
from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass
from datetime import date

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True, slots=True)
class Month:
    """A month counted from year 0 (``year * 12 + month - 1``), so that
    ordering and arithmetic are plain integer operations."""

    index: int

    @classmethod
    def of(cls, year: int, month: int) -> Month:
        if not 1 <= month <= 12:
            raise ValueError(f"month must be 1..12, got {month}")
        return cls(year * 12 + month - 1)

    @classmethod
    def parse(cls, text: str) -> Month:
        return _parse(text)

    @classmethod
    def containing(cls, day: date) -> Month:
        return cls.of(day.year, day.month)

    @property
    def year(self) -> int:
        return self.index // 12

    @property
    def month(self) -> int:
        return self.index % 12 + 1

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date.fromordinal((self + 1).first_day.toordinal() - 1)

    def __add__(self, months_count: int) -> Month:
        return Month(self.index + months_count)

    def __sub__(self, other: int) -> Month:
        return Month(self.index - other)

    def months_until(self, other: Month) -> int:
        """How many months from self to other (negative if other is earlier)."""
        return other.index - self.index

    def __str__(self) -> str:
        return _text(self.index)

    def __repr__(self) -> str:
        return f"Month({str(self)!r})"


@lru_cache(maxsize=4096)
def _text(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@lru_cache(maxsize=4096)
def _parse(text: str) -> Month:
    # Cached: the read models and files repeat the same few hundred months.
    match = _MONTH_RE.match(text.strip())
    if not match:
        raise ValueError(f"expected a month as YYYY-MM, got {text!r}")
    return Month.of(int(match.group(1)), int(match.group(2)))


def month_range(first: Month, last: Month) -> list[Month]:
    """Every month from first through last, inclusive."""
    return [Month(i) for i in range(first.index, last.index + 1)]

"""Amounts of VND in Vietnamese words, as a payment list states its total
("Bằng chữ: Một triệu không trăm tám mươi nghìn đồng").

The usual reading of accounting documents: groups of three digits with
nghìn, triệu, tỷ (and nghìn tỷ, triệu tỷ above); a group after the first
reads its hundreds even when zero ("không trăm"), a zero ten before a unit
is "linh"; after a ten of twenty or more, one is "mốt" and four is "tư";
after any ten, five is "lăm". An all-zero group is left out."""
from __future__ import annotations

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
_SCALES = ("", " nghìn", " triệu")
_BILLION = 10**9


def _group(value: int, leading: bool) -> str:
    """0 < value < 1000; ``leading``: the first group of the number."""
    hundreds, tens, units = value // 100, value // 10 % 10, value % 10
    words: list[str] = []
    if hundreds or not leading:
        words += [DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units and words:
            words.append("linh")
    elif tens == 1:
        words.append("mười")
    else:
        words += [DIGITS[tens], "mươi"]
    if units:
        if units == 1 and tens >= 2:
            words.append("mốt")
        elif units == 4 and tens >= 2:
            words.append("tư")
        elif units == 5 and tens >= 1:
            words.append("lăm")
        else:
            words.append(DIGITS[units])
    return " ".join(words)


def _below_billion(value: int, leading: bool) -> list[str]:
    parts = []
    groups = [value // 10**6, value // 1000 % 1000, value % 1000]
    for index, group in enumerate(groups):
        if group:
            parts.append(_group(group, leading) + _SCALES[2 - index])
            leading = False
    return parts


def number_in_words(value: int) -> str:
    """A whole number >= 0 in Vietnamese words, lower case."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"a whole number of at least 0, got {value!r}")
    if value == 0:
        return DIGITS[0]
    high, low = divmod(value, _BILLION)
    parts: list[str] = []
    if high:
        parts.append(number_in_words(high) + " tỷ")
    parts += _below_billion(low, leading=not high)
    return " ".join(parts)


def vnd_in_words(amount_vnd: int) -> str:
    """``1080000`` -> ``Một triệu không trăm tám mươi nghìn đồng``."""
    words = number_in_words(amount_vnd) + " đồng"
    return words[0].upper() + words[1:]

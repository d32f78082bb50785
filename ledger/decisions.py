"""A decision of the labour office about one beneficiary, as a domain value.

Files are parsed and shape-checked at the edge (adapters/); what reaches the
domain is a ``Decision`` whose business consistency the aggregate checks.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from datetime import date

from .months import Month

KINDS = (
    "register",
    "change_category",
    "reassess_disability",
    "relocate_out",
    "relocate_in",
    "change_channel",
    "authorize_proxy",
    "revoke_proxy",
    "suspend",
    "resume",
    "terminate",
)
CHANNELS = ("cash", "bank")




@dataclass(frozen=True, slots=True)
class Decision:
    decision_no: str
    signed_on: date
    kind: str
    citizen_id: str
    effective: Month
    full_name: str = ""
    birth_date: date | None = None
    sex: str = ""
    province_code: str = ""
    commune_code: str = ""
    categories: tuple[str, ...] = ()
    children_count: int = 0
    channel: str = ""
    agent_code: str = ""
    bank_account: str = ""
    proxy_name: str = ""
    proxy_citizen_id: str = ""
    home_delivery: bool = False
    reason: str = ""
    proxy_bank_account: str = ""  # kept last: see fingerprint

    @property
    def key(self) -> str:
        """Decision number and kind: with the citizen id, the row's key."""
        return f"{self.kind}|{self.decision_no}"

    def fingerprint(self) -> str:
        """Content hash: the same key seen again must carry the same content.
        A field added later counts only when filled in, so the decisions
        recorded before it keep their fingerprints."""
        return _fingerprint(self, skip_empty=LATER_FIELDS)


DEATH_SOURCES = ("civil_registry", "commune", "post_office", "bank", "family")


@dataclass(frozen=True, slots=True)
class DeathNotice:
    notice_id: str
    citizen_id: str
    date_of_death: date
    source: str
    reported_on: date
    document_no: str = ""
    funeral_arranged_by: str = ""
    corrects: str = ""  # the notice id whose date this one corrects

    def fingerprint(self) -> str:
        return _fingerprint(self)


CONFIRMATION_METHODS = ("visit", "phone", "at_office")


@dataclass(frozen=True, slots=True)
class ReceiptConfirmation:
    """The commune's check that a payment made into a proxy's account for a
    payroll month reached the beneficiary (formats.md, confirmations)."""

    citizen_id: str
    month: Month  # the payroll month of the proxy-account payment
    confirmed_on: date
    confirmed_by: str
    method: str

    def fingerprint(self) -> str:
        return _fingerprint(self)


# Decision fields added after decisions were recorded (see Decision.fingerprint).
LATER_FIELDS = frozenset({"proxy_bank_account"})


def _fingerprint(value, skip_empty: frozenset[str] = frozenset()) -> str:
    # Field by field, not dataclasses.astuple: that deep-copies every value
    # and was most of the cost of recording a large file.
    text = "\x1f".join(str(getattr(value, f.name)) for f in fields(value)
                        if not (f.name in skip_empty and not getattr(value, f.name)))
    return hashlib.sha256(text.encode()).hexdigest()[:24]

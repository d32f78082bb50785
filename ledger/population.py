"""Checks against the national population database (Cơ sở dữ liệu quốc gia
về dân cư): what the database answered for a beneficiary, how that answer
compares with what the ledger holds, and the officer's review of it.

- The comparison is pure (``compare``): a person is ``matched``,
  ``not_found``, ``differs`` (naming each field that differs) or
  ``deceased``. Names are compared twice: without diacritics and case
  (``full_name``: other letters, most likely another person or a typing
  slip) and then as written (``full_name_diacritics``: the same letters,
  other marks or case).
- A ``deceased`` answer holds the person's payments from the next payroll
  (a hold in the payout book, which ``plan_line`` honours): nothing is
  issued, and since the months stay due, nothing is lost. The officer
  confirms it (a death notice from source ``population_db``, with every
  consequence of a death notice) or rejects it with a reason (the hold is
  lifted; the held months are owed, so the next payroll pays them as
  arrears).
- A correction of the name, birth date, sex or citizen id is a decision
  (``IdentityCorrected``), never an edit of what was recorded.

The events are recorded on the beneficiary's aggregate, so the payroll
decides from the aggregate alone.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Sequence

from . import citizen_id as cid
from .beneficiary import Beneficiary
from .decisions import DeathNotice, _fingerprint
from .errors import Refused
from .facts import BeneficiaryFacts
from .months import Month
from .state import BeneficiaryState

# What the population database says of a citizen id.
ALIVE, DB_DECEASED, DB_NOT_FOUND = "alive", "deceased", "not_found"
DB_STATUSES = (ALIVE, DB_DECEASED, DB_NOT_FOUND)

# The match result of one check.
MATCHED, NOT_FOUND, DIFFERS, DECEASED = "matched", "not_found", "differs", "deceased"
RESULTS = (MATCHED, NOT_FOUND, DIFFERS, DECEASED)

# The fields that can differ, in the order they are listed.
NAME_LETTERS = "full_name"  # other letters even without diacritics and case
NAME_MARKS = "full_name_diacritics"  # the same letters, other diacritics or case
FIELDS = (NAME_LETTERS, NAME_MARKS, "birth_date", "sex", "commune", "status")

# How the officer resolves a review.
RESOLUTIONS = ("matched", "corrected", "deceased", "rejected")

# The hold a deceased answer puts on payment (payouts.PayoutBook.holds),
# and the source of the death notice a confirmation records.
POPULATION_DEATH = "population_death"
HOLD_CODE = "POPULATION_DB"
SOURCE = "population_db"


# --- the comparison (pure) ----------------------------------------------------------

def written_name(text: str) -> str:
    """A name as written: composed Unicode (NFC), single spaces."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def folded_name(text: str) -> str:
    """A name without diacritics and case (đ as d), single spaces."""
    decomposed = unicodedata.normalize("NFD", written_name(text).casefold().replace("đ", "d"))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


@dataclass(frozen=True, slots=True)
class Answer:
    """One row of the population database's answer file."""

    citizen_id: str
    status: str  # alive, deceased, not_found
    checked_on: date
    full_name: str = ""
    birth_date: date | None = None
    sex: str = ""  # M or F
    date_of_death: date | None = None
    permanent_commune: str = ""

    def fingerprint(self) -> str:
        return _fingerprint(self)


@dataclass(frozen=True, slots=True)
class Identity:
    """What the ledger holds about the person, to compare."""

    full_name: str
    birth_date: date
    sex: str
    commune_code: str
    deceased: bool = False


def identity_of(facts: BeneficiaryFacts, on: date) -> Identity:
    residence = facts.residences.at(Month.containing(on)) or facts.residences.latest()
    return Identity(facts.full_name, facts.birth_date, facts.sex,
                    residence.commune_code if residence else "", facts.death is not None)


def differences(ours: Identity, answer: Answer) -> tuple[str, ...]:
    """The fields in which the answer differs from the ledger; a field the
    answer leaves blank is not compared."""
    found = []
    if answer.full_name:
        if folded_name(answer.full_name) != folded_name(ours.full_name):
            found.append(NAME_LETTERS)
        elif written_name(answer.full_name) != written_name(ours.full_name):
            found.append(NAME_MARKS)
    if answer.birth_date is not None and answer.birth_date != ours.birth_date:
        found.append("birth_date")
    if answer.sex and answer.sex != ours.sex:
        found.append("sex")
    if answer.permanent_commune and answer.permanent_commune.strip() != ours.commune_code.strip():
        found.append("commune")
    if answer.status == ALIVE and ours.deceased:
        found.append("status")  # the ledger has a death the database does not
    return tuple(found)


def compare(ours: Identity, answer: Answer) -> tuple[str, tuple[str, ...]]:
    """The match result and the fields that differ."""
    if answer.status == DB_NOT_FOUND:
        return NOT_FOUND, ()
    found = differences(ours, answer)
    if answer.status == DB_DECEASED:
        return DECEASED, found
    return (DIFFERS if found else MATCHED), found


# --- what a person's checks came to ---------------------------------------------------

@dataclass(frozen=True, slots=True)
class Check:
    """One answer as recorded, with its result."""

    checked_on: date
    db_status: str
    full_name: str
    birth_date: date | None
    sex: str
    date_of_death: date | None
    permanent_commune: str
    result: str
    differences: tuple[str, ...]
    document: str = ""


@dataclass(frozen=True, slots=True)
class PopulationRecord:
    """A person's checks: the latest, whether it awaits the officer, the
    death reported and awaiting a decision (payment held meanwhile), how
    the last review was resolved, and each recorded check's fingerprint
    (checked_on -> fingerprint) so a file imported again records nothing."""

    latest: Check | None = None
    review_open: bool = False
    death_reported: date | None = None
    resolution: str = ""
    reason: str = ""
    resolved_by: str = ""
    population_citizen_id: str = ""  # the id the database knows, when ours was corrected
    recorded: dict[str, str] = field(default_factory=dict)

    @property
    def awaiting(self) -> str:
        """The review's subject: the reported death first, else the latest result."""
        if not self.review_open:
            return ""
        return DECEASED if self.death_reported is not None else (self.latest.result if self.latest else "")


def record_of(state: BeneficiaryState | None) -> PopulationRecord:
    found = getattr(state, "population", None) if state is not None else None
    return found if found is not None else PopulationRecord()


def is_held(state: BeneficiaryState) -> bool:
    """A death reported by the population database awaits the officer."""
    return any(kind == POPULATION_DEATH for kind, _ in state.book.holds)


# --- events ------------------------------------------------------------------------------

class PopulationChecked(Beneficiary.Event):
    """The population database's answer for this person, as imported (who
    imported it is the actor; when, the event's time), its result, and
    what it brought about: payment held (a death the ledger did not have),
    a review opened (anything but a match; a death the ledger has already,
    only when the dates differ)."""

    checked_on: date
    db_status: str
    full_name: str
    birth_date: date | None
    sex: str
    date_of_death: date | None
    permanent_commune: str
    result: str
    differences: list[str]
    fingerprint: str
    document: str
    holds_payment: bool
    opens_review: bool

    @property
    def basis_text(self) -> str:
        return self.document

    def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
        assert state is not None
        record = record_of(state)
        check = Check(self.checked_on, self.db_status, self.full_name, self.birth_date, self.sex,
                      self.date_of_death, self.permanent_commune, self.result, tuple(self.differences),
                      self.document)
        review_open, death_reported = review_after_check(record.death_reported, self)
        book = state.book.with_hold(POPULATION_DEATH, HOLD_CODE) if self.holds_payment else state.book
        folded = replace(record, latest=check, review_open=review_open, death_reported=death_reported,
                         recorded={**record.recorded, self.checked_on.isoformat(): self.fingerprint})
        return replace(state, book=book, population=folded)


def review_after_check(death_reported: date | None, event: PopulationChecked) -> tuple[bool, date | None]:
    """(review open, death awaiting a decision) after a check: a reported
    death stays before the officer until resolved, whatever a later check
    says (the review queue's view folds the same way)."""
    if event.holds_payment:
        death_reported = event.date_of_death
    return event.opens_review or death_reported is not None, death_reported


class PopulationReviewed(Beneficiary.Event):
    """The officer's decision on the latest check: matched (the record is
    right as it stands), corrected (with an ``IdentityCorrected`` decision),
    deceased (with a death notice from ``population_db``) or rejected (the
    reported death is not so): the hold is lifted in every case."""

    checked_on: date
    outcome: str
    reason: str
    decision_no: str

    @property
    def basis_text(self) -> str:
        return self.decision_no or f"population check {self.checked_on}"

    def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
        assert state is not None
        record = replace(record_of(state), review_open=False, death_reported=None, resolution=self.outcome,
                         reason=self.reason, resolved_by=self.actor)
        return replace(state, book=state.book.without_hold(POPULATION_DEATH), population=record)


class IdentityCorrected(Beneficiary.DecisionEvent):
    """A decision correcting who the person is on the ledger's record (the
    name, birth date or sex, as the population database has them), or
    naming the citizen id the database knows them by. The ledger keeps the
    person under the citizen id they were registered with: every line and
    aggregate is keyed by it."""

    kind = "correct_identity"
    full_name: str  # "" where unchanged
    birth_date: date | None
    sex: str
    population_citizen_id: str
    reason: str

    def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
        folded = super().fold(state)
        if not self.population_citizen_id:
            return folded
        record = replace(record_of(folded), population_citizen_id=self.population_citizen_id)
        return replace(folded, population=record)

    def evolve(self, facts: BeneficiaryFacts | None) -> BeneficiaryFacts:
        assert facts is not None
        return replace(facts, full_name=self.full_name or facts.full_name,
                       birth_date=self.birth_date or facts.birth_date, sex=self.sex or facts.sex,
                       schedule_memo=None)


# --- commands on one person ------------------------------------------------------------

def check(person: Beneficiary, answer: Answer, document: str, actor: str) -> bool:
    """Record an answer; False if this answer (citizen id and checked_on)
    was recorded before exactly so. The same key with other content is refused."""
    record = record_of(person.state)
    earlier = record.recorded.get(answer.checked_on.isoformat())
    if earlier is not None:
        if earlier != answer.fingerprint():
            raise Refused("checked_on", f"the check of {answer.citizen_id} on {answer.checked_on} was recorded "
                                        "before with different content")
        return False
    if record.latest is not None and answer.checked_on < record.latest.checked_on:
        raise Refused("checked_on", f"{answer.citizen_id} was checked on {record.latest.checked_on}, "
                                    f"after {answer.checked_on}: import the answers in the order they were made")
    if answer.date_of_death is not None and answer.date_of_death < person.facts.birth_date:
        raise Refused("date_of_death", "date_of_death is before the birth date the ledger holds")
    result, found = compare(identity_of(person.facts, answer.checked_on), answer)
    known = person.facts.death
    holds = result == DECEASED and known is None
    if result == DECEASED and known is not None:
        # The ledger has the death already: only another date needs the officer.
        opens = answer.date_of_death != known.date_of_death
    else:
        opens = result != MATCHED
    person.trigger_event(
        PopulationChecked, actor=actor, checked_on=answer.checked_on, db_status=answer.status,
        full_name=answer.full_name, birth_date=answer.birth_date, sex=answer.sex,
        date_of_death=answer.date_of_death, permanent_commune=answer.permanent_commune,
        result=result, differences=list(found), fingerprint=answer.fingerprint(), document=document,
        holds_payment=holds, opens_review=opens)
    return True


@dataclass(frozen=True, slots=True)
class Resolution:
    """What the officer decided about a person's open review."""

    citizen_id: str
    outcome: str  # matched, corrected, deceased, rejected
    reason: str
    decided_on: date
    decision_no: str = ""
    full_name: str = ""  # corrected: the name, birth date, sex or citizen id as they should be
    birth_date: date | None = None
    sex: str = ""
    population_citizen_id: str = ""
    date_of_death: date | None = None  # deceased: if not the one the database gave


def resolve(person: Beneficiary, resolution: Resolution, rules, actor: str) -> bool:
    """Record the officer's decision; False if the review was resolved
    before exactly so (a retry). Refused when there is nothing to resolve,
    or the resolution does not fit what awaits."""
    record = record_of(person.state)
    r = resolution
    if not record.review_open:
        if record.latest is not None and record.resolution == r.outcome and record.reason == r.reason:
            return False
        raise Refused("citizen_id", f"{r.citizen_id} has no population check awaiting review")
    assert record.latest is not None
    if r.outcome not in RESOLUTIONS:
        raise Refused("as", f"--as must be one of {', '.join(RESOLUTIONS)}")
    if not r.reason.strip():
        raise Refused("reason", "a reason is required")
    death = record.death_reported
    if r.outcome == "rejected" and death is None:
        raise Refused("as", "rejected is for a death reported by the population database; "
                            "use matched or corrected")
    if death is not None and r.outcome in ("matched", "corrected"):
        raise Refused("as", f"the population database reports {r.citizen_id} deceased on {death}: "
                            "confirm it (--as deceased) or reject it (--as rejected) first")
    if r.outcome == "corrected":
        if not (r.full_name or r.birth_date or r.sex or r.population_citizen_id):
            raise Refused("as", "a correction names what is corrected: the name, birth date, sex or citizen id")
        if not r.decision_no:
            raise Refused("decision_no", "a correction is a decision: give its number")
        if f"correct_identity|{r.decision_no}" in person.decisions:
            raise Refused("decision_no", f"decision {r.decision_no} was recorded before")
        if r.population_citizen_id:
            try:
                cid.check_format(r.population_citizen_id)
            except cid.CitizenIdError as exc:
                raise Refused("citizen_id", str(exc)) from None
        if r.sex not in ("", "M", "F"):
            raise Refused("sex", "sex must be M or F")
        if r.birth_date is not None and r.birth_date > r.decided_on:
            raise Refused("birth_date", "the birth date is after today")
        if r.birth_date is not None or r.sex:
            # The citizen id encodes the birth year and sex: a correction
            # that disagrees with it needs the right id as well.
            try:
                cid.check_consistent(r.population_citizen_id or r.citizen_id,
                                     r.birth_date or person.facts.birth_date, r.sex or person.facts.sex)
            except cid.CitizenIdError as exc:
                raise Refused("birth_date" if r.birth_date else "sex", str(exc)) from None
        meta = dict(decision_no=r.decision_no, signed_on=r.decided_on, effective=Month.containing(r.decided_on))
        person.trigger_event(IdentityCorrected, actor=actor, **meta,
                             fingerprint=_fingerprint(r), full_name=r.full_name, birth_date=r.birth_date,
                             sex=r.sex, population_citizen_id=r.population_citizen_id, reason=r.reason)
        # A birth date changes the age bands, so what was due; cash still
        # with an agent for a month no longer due as issued is withdrawn.
        person.correct_payouts(rules, r.decision_no, actor, on=r.decided_on)
    if r.outcome == "deceased":
        died = r.date_of_death or death or record.latest.date_of_death
        if died is None:
            raise Refused("date_of_death", "the population database gave no date of death: give it")
        if died > r.decided_on:
            raise Refused("date_of_death", "the date of death is after today")
        notice = DeathNotice(notice_id=f"POP/{r.citizen_id}/{record.latest.checked_on.isoformat()}",
                             citizen_id=r.citizen_id, date_of_death=died, source=SOURCE,
                             reported_on=r.decided_on, document_no=r.decision_no or record.latest.document)
        person.notify_death(notice, rules, actor)
    person.trigger_event(PopulationReviewed, actor=actor, checked_on=record.latest.checked_on,
                         outcome=r.outcome, reason=r.reason, decision_no=r.decision_no)
    return True


# --- match rates -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MatchRate:
    """Per commune, or for the whole district: people whose latest check
    gave each result, and matched / checked."""

    area: str
    checked: int
    matched: int
    not_found: int
    differs: int
    deceased: int

    @property
    def rate(self) -> float:
        return self.matched / self.checked if self.checked else 0.0


def match_rates(results: Sequence[tuple[str, str]], district: str = "district") -> list[MatchRate]:
    """(commune, result) of each person's latest check -> one rate per
    commune, then the district's."""
    by_area: dict[str, dict[str, int]] = {}
    for commune, result in results:
        for area in (commune, None):
            counts = by_area.setdefault(area if area is not None else "\x00", dict.fromkeys(RESULTS, 0))
            counts[result] += 1
    out = []
    for area in sorted(a for a in by_area if a != "\x00"):
        c = by_area[area]
        out.append(MatchRate(area, sum(c.values()), c[MATCHED], c[NOT_FOUND], c[DIFFERS], c[DECEASED]))
    total = by_area.get("\x00", dict.fromkeys(RESULTS, 0))
    out.append(MatchRate(district, sum(total.values()), total[MATCHED], total[NOT_FOUND], total[DIFFERS],
                         total[DECEASED]))
    return out

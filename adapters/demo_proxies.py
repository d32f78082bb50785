"""The demo's payments into proxies' accounts: a few people paid by bank
authorise a proxy with the proxy's own account, their transfers go there,
and the communes confirm some of them (the rest wait on the queue)."""
from __future__ import annotations

import random
from datetime import date
from pathlib import Path

from ledger import citizen_id as cid
from ledger.months import Month

from . import synthetic
from .commands import Commands
from .queries import Queries

COLUMNS = (*synthetic.DECISION_COLUMNS, "proxy_bank_account")
CONFIRMATION_COLUMNS = ("citizen_id", "month", "confirmed_on", "confirmed_by", "method")
PROXY_NAMES = ("Nguyễn Thị Hoa", "Trần Văn Bình", "Lê Thị Lan", "Phạm Văn Hùng", "Võ Thị Mai", "Đặng Văn Tâm")
COMMUNE_OFFICERS = ("Cán bộ LĐTBXH xã Bình Hải", "Cán bộ LĐTBXH xã Bình Trị", "Cán bộ LĐTBXH xã Bình Đông")


def authorise(commands: Commands, registered: list[dict], month: Month, out: Path, seed: int, actor: str,
              share: float = 0.06) -> int:
    """Proxies with their own accounts for a share of those paid by bank
    and registered before ``month``, from that month; returns how many."""
    rng = random.Random(seed * 104_729 + month.index)
    area = synthetic.Area()
    rows = []
    for index, reg in enumerate(registered):
        if reg["channel"] != "bank" or Month.parse(reg["effective_month"]) >= month or rng.random() >= share:
            continue
        sex = rng.choice("MF")
        birth = date(rng.randint(1965, 2000), rng.randint(1, 12), rng.randint(1, 28))
        rows.append(dict(
            decision_no=f"UQ{month.index % 1000}{index:06d}/QĐ-UBND", signed_on=str(month.first_day),
            kind="authorize_proxy", citizen_id=reg["citizen_id"], effective_month=str(month),
            proxy_name=rng.choice(PROXY_NAMES),
            proxy_citizen_id=cid.make(int(area.province_code), birth.year, sex, 800_000 + index % 100_000),
            proxy_bank_account=f"{rng.randrange(10**11, 10**12)}"))
    if rows:
        commands.import_decisions(synthetic.write_csv(out / "decisions" / f"proxies-{month}.csv", rows, COLUMNS),
                                  actor)
    return len(rows)


def confirm_some(commands: Commands, queries: Queries, month: Month, out: Path, seed: int, actor: str) -> int:
    """The communes confirm about half of the proxy-account payments
    waiting on the queue as of ``month`` (visits early in the month)."""
    rng = random.Random(seed * 15_485_863 + month.index)
    rows = [dict(citizen_id=entry.citizen_id, month=paid_month, confirmed_on=str(month.first_day.replace(day=3)),
                 confirmed_by=rng.choice(COMMUNE_OFFICERS), method=rng.choice(("visit", "phone", "at_office")))
            for entry in queries.proxy_queue(month) if rng.random() < 0.5 for paid_month in entry.months]
    if rows:
        commands.import_confirmations(synthetic.write_csv(out / "confirmations" / f"confirmations-{month}.csv",
                                                          rows, CONFIRMATION_COLUMNS), actor)
    return len(rows)

"""A person's page: status, categories, channel, proxy, the schedule month
by month (a table and a small chart), the payout lines and their results,
overpayments and recoveries, and every event with its legal basis; as the
office knew it at a chosen time (the same query as ``ledger beneficiary
show --as-known-at``)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from ..errors import CommandRefused
from .charts import schedule_chart
from .kit import Web

# The events that change what a person owes or was recovered from them.
MONEY_BACK = ("OverpaymentChanged", "RecoveryRecorded")


def known_at(text: str) -> datetime | None:
    """The picker's value (a UTC date-time, or a date: its end) as the CLI reads --as-known-at."""
    from .app import BadRequest

    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"Thời điểm không hợp lệ: {text!r} (dạng YYYY-MM-DDTHH:MM)") from None
    if moment.tzinfo is None:  # recorded times are UTC
        moment = moment.replace(tzinfo=timezone.utc)
    if len(text) == 10:  # a plain date: as known at the end of that day
        moment += timedelta(days=1) - timedelta(microseconds=1)
    return moment


def add_routes(app: FastAPI, web: Web) -> None:
    from .app import BadRequest, vnd

    @app.get("/doi-tuong/{citizen_id}", response_class=HTMLResponse)
    def person(request: Request, citizen_id: str, biet_luc: str = ""):
        user = web.viewer(request)
        if not re.fullmatch(r"\d{12}", citizen_id):
            raise BadRequest("Số CCCD gồm 12 chữ số.", 404)
        when = known_at(biet_luc)
        queries = web.queries

        def read():  # the report and the timeline from one fold of the person's events
            return (*queries.person_page(citizen_id, when), None if when else queries.overpayment_of(citizen_id))

        try:
            report, timeline, overpayment = web.ledger(read)
        except CommandRefused:
            if when is not None:
                raise BadRequest(f"Lúc {when:%d/%m/%Y %H:%M} (UTC) chưa có đối tượng {citizen_id} "
                                 "trong sổ.", 404) from None
            raise BadRequest(f"Không có đối tượng {citizen_id}.", 404) from None
        return web.render(request, "person.html", user=user, p=report, timeline=timeline,
                          money_back=[e for e in timeline if e.type in MONEY_BACK], overpayment=overpayment,
                          chart=schedule_chart(report.months, vnd), when=when,
                          picker=(when.strftime("%Y-%m-%dT%H:%M:%S") if when else ""))

"""The console's transparency page and response times, against a real server: real chatters
report, a moderator bans, an admin reads the period's figures (page, JSON and CSV); moderators
see response times on the dashboard and in the API, and /metrics exports them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from conftest import ServerFactory
from harness.moderation import add_moderator, logged_in, reported_chat

pytestmark = [pytest.mark.timeout(180)]


async def test_transparency_page_api_and_response_times(server_factory: ServerFactory) -> None:
    # Any minor_in_danger report is overdue at once here: the alert's wiring, without waiting.
    srv = server_factory(PARLEY_MINOR_IN_DANGER_ALERT_SECONDS="0.001")
    admin = await logged_in(srv, "root", add_moderator(srv, "root", "admin"))
    mod = await logged_in(srv, "mo", add_moderator(srv, "mo", "moderator"))
    try:
        ref, a, b = await reported_chat(srv, category="harassment")
        urgent, c, d = await reported_chat(srv, category="minor_in_danger")
        r = await mod.post(
            f"/api/mod/items/{ref}/action",
            json={"action": "ban_temp", "reason": "Insults.", "duration": "24h"},
        )
        assert r.status_code == 200, r.text

        # Response times: moderators see them, in the API and on the dashboard.
        r = await mod.get("/api/mod/response-times")
        assert r.status_code == 200, r.text
        times = r.json()
        classes = {c["name"]: c for c in times["classes"]}
        assert list(classes) == ["critical", "urgent", "high", "normal", "low"]
        assert classes["urgent"]["waiting"] == 1  # the minor in danger
        assert classes["normal"]["decided"] == 1  # the harassment report, banned
        assert classes["normal"]["p50_seconds"] is not None
        assert classes["critical"]["p50_seconds"] is None
        assert [o["ref"] for o in times["overdue"]] == [urgent]
        page = await mod.get("/mod/dashboard")
        assert page.status_code == 200
        assert page.text.count('data-testid="response-class"') == 5
        assert f'data-testid="overdue-item">{urgent}<' in page.text

        # The transparency report: admins only.
        today = datetime.now(UTC).date()
        period = {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}
        assert (await mod.get("/api/mod/transparency/report", params=period)).status_code == 403
        assert (await mod.get("/mod/transparency")).status_code == 403
        r = await admin.get("/api/mod/transparency/report", params=period)
        assert r.status_code == 200, r.text
        figures = r.json()
        assert figures["notices"]["received"] == 2
        assert figures["notices"]["by_parley_category"] == {"harassment": 1, "minor_in_danger": 1}
        assert figures["decisions"]["by_type"]["account_suspension"] == 1
        assert figures["suspensions"] == {
            "total": 1, "temporary": 1, "permanent": 0, "automatic": 0, "by_moderators": 1,
            "by_cause": {"harassment": 1},
        }  # fmt: skip
        r = await admin.get("/api/mod/transparency/report", params={**period, "format": "csv"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(r.text)))
        assert ["notices", "received", "", "2"] in rows

        page = await admin.get("/mod/transparency", params=period)
        assert page.status_code == 200
        for testid in ("transparency-from", "transparency-to", "transparency-show"):
            assert f'data-testid="{testid}"' in page.text
        assert 'data-testid="section-notices"' in page.text
        assert 'data-figure="received"' in page.text
        assert 'href="/mod/transparency"' in page.text  # in the admin's navigation
        default = await admin.get("/mod/transparency")  # the last 30 days
        assert default.status_code == 200 and 'data-testid="section-complaints"' in default.text
    finally:
        for client in (a, b, c, d):
            await client.close()
        await admin.aclose()
        await mod.aclose()


async def test_bad_periods_get_clear_errors(server_factory: ServerFactory) -> None:
    srv = server_factory()
    admin = await logged_in(srv, "root", add_moderator(srv, "root", "admin"))
    try:
        for period, message in (
            ({"from": "2030-03-02", "to": "2030-03-01"}, "ends before it starts"),
            ({"from": "2029-01-01", "to": "2030-03-01"}, "at most 366 days"),
            ({"from": "1999-12-31", "to": "2000-01-01"}, "2000-01-01 or later"),
            ({"from": "9999-12-31", "to": "9999-12-31"}, "2000-01-01 or later"),
        ):
            r = await admin.get("/api/mod/transparency/report", params=period)
            assert r.status_code == 422 and message in r.json()["detail"], (period, r.text)
            page = await admin.get("/mod/transparency", params=period)
            assert page.status_code == 422 and message in page.text
        r = await admin.get("/api/mod/transparency/report", params={"from": "x", "to": "y"})
        assert r.status_code == 422
        hostile = "<script>window.__x=1</script>"
        page = await admin.get("/mod/transparency", params={"from": hostile, "to": "2030-01-01"})
        assert page.status_code == 422 and "Give two dates." in page.text
        assert hostile not in page.text  # autoescaped wherever it shows
    finally:
        await admin.aclose()


async def test_metrics_export_response_times(server_factory: ServerFactory) -> None:
    srv = server_factory()
    async with httpx.AsyncClient(base_url=srv.url, timeout=10) as http:
        text = (await http.get("/metrics")).text
    # The console measures once at start-up, then every minute.
    assert 'parley_queue_waiting_items{priority_class="urgent"} 0.0' in text
    assert 'parley_time_to_decision_seconds{priority_class="urgent",quantile="0.95"} NaN' in text
    assert "parley_minor_in_danger_overdue 0.0" in text
    assert "parley_minor_in_danger_overdue_alerts_total 0.0" in text

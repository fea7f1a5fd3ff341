"""Every service serves basic metrics: HTTP requests, outbox, Kafka messages."""

from __future__ import annotations

from registration.bootstrap import create_app
from registration.config import Settings
from servicekit.config import load
from tests.support.apps import running
from tests.support.auth import bearer
from tests.support.forms import company_form
from tests.support.waiting import eventually


async def test_metrics_count_requests_and_outbox_rows(infra_env, unique):
    settings = load(Settings, mongodb_database=f"reg_{unique}")
    async with running(create_app(settings)) as reg:
        r = await reg.post("/cases", json={"form": company_form(f"酒泉{unique}能源有限公司")}, headers=bearer("u-1"))
        assert r.status_code == 201

        async def published():
            text = (await reg.get("/metrics")).text
            return text if "one_window_outbox_published_total 1.0" in text else None

        text = await eventually(published)
        assert 'one_window_http_requests_total{method="POST",route="/cases",status="201"} 1.0' in text
        assert "one_window_outbox_pending 0.0" in text
        assert "one_window_http_request_seconds_bucket" in text

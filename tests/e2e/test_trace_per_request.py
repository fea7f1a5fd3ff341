"""A real uvicorn process: requests on ONE kept-open connection each get their own trace
(uvicorn created the next request's task in the previous one's context, cpython#140947)."""

from __future__ import annotations

import httpx

from tests.support.auth import bearer


def test_requests_on_one_kept_open_connection_get_distinct_traces(start_service):
    reg = start_service("registration")
    incoming = "4bf92f3577b34da6a3ce929d0e0e4736"
    with httpx.Client(base_url=reg.url) as client:  # one connection, kept open
        ids = [client.get("/cases", headers=bearer("u-1")).headers["x-trace-id"] for _ in range(60)]
        honoured = client.get("/cases", headers={**bearer("u-1"),
                                                 "traceparent": f"00-{incoming}-00f067aa0ba902b7-01"})
    assert len(set(ids)) == 60
    assert honoured.headers["x-trace-id"] == incoming

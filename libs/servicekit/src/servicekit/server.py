"""Run a service under uvicorn with the platform's problem+json for the HTTP server's own
refusals (decision 23).

uvicorn answers a request its parser cannot read (malformed, or a request line or headers
over the parser's limits, ~64 KiB) before any app code runs, with a plain-text 400. Every
other error of the platform is problem+json; :class:`ProblemHttpToolsProtocol` makes this
one the same shape. ``ow-serve`` (``python -m servicekit.server``) is uvicorn with that protocol; it reads
its app, host and port from the arguments or from ``UVICORN_APP``/``UVICORN_HOST``/
``UVICORN_PORT`` (the container image)."""

from __future__ import annotations

import argparse
import json
import os

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from servicekit.problems import PROBLEM_JSON

MALFORMED = ("the request cannot be read: malformed, or a request line or headers longer "
             "than the server reads")


def malformed_body() -> bytes:
    return json.dumps({"type": "about:blank", "title": "Bad Request", "status": 400, "detail": MALFORMED,
                       "code": "MalformedRequest"}, separators=(",", ":")).encode()


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering what it cannot parse with problem+json."""

    def send_400_response(self, msg: str) -> None:
        body = malformed_body()
        content = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend([b"content-type: " + PROBLEM_JSON.encode() + b"\r\n",
                        b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                        b"connection: close\r\n", b"\r\n", body])
        self.transport.write(b"".join(content))
        self.transport.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ow-serve", description="uvicorn with problem+json for its own refusals")
    parser.add_argument("app", nargs="?", default=os.environ.get("UVICORN_APP"), help="module:attribute")
    parser.add_argument("--host", default=os.environ.get("UVICORN_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("UVICORN_PORT", "8000")))
    parser.add_argument("--log-level", default=os.environ.get("UVICORN_LOG_LEVEL", "info"))
    args = parser.parse_args(argv)
    if not args.app:
        parser.error("name the app (module:attribute) or set UVICORN_APP")
    uvicorn.run(args.app, host=args.host, port=args.port, log_level=args.log_level, http=ProblemHttpToolsProtocol)


if __name__ == "__main__":
    main()

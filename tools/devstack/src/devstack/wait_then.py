"""Wait for servers, create the topics, then exec a command.

    python -m devstack.wait_then [--timeout S] [--topics BOOTSTRAP] HOST:PORT ... -- CMD ARGS...

Each service of the embedded stack is launched through this, so it starts only after the
broker and the database listen and every topic exists. Topic creation is idempotent, so
all services may race to do it. The command replaces this process (``os.execvp``), so
the process runner's signals reach it directly. An ``ow-serve ...`` command is run in this
same process instead (servicekit.server.main, called in-process): the modules loaded
for the topics (pydantic, contracts, aiokafka) are loaded once, not twice, which matters
when five services start at once on two cores.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

from devstack.servers import wait_port


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" not in argv:
        raise SystemExit("usage: python -m devstack.wait_then [options] HOST:PORT ... -- CMD ...")
    i = argv.index("--")
    return argv[:i], argv[i + 1 :]


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def main(argv: list[str] | None = None) -> None:
    own, command = _split(sys.argv[1:] if argv is None else argv)
    if not command:
        raise SystemExit("wait_then: no command after --")
    parser = argparse.ArgumentParser(prog="python -m devstack.wait_then")
    parser.add_argument("addresses", nargs="*", type=_address, metavar="HOST:PORT")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each step")
    parser.add_argument("--topics", metavar="BOOTSTRAP", help="create the registry's topics on this broker")
    args = parser.parse_args(own)

    started = time.monotonic()
    try:
        for host, port in args.addresses:
            wait_port(host, port, args.timeout, what=f"{host}:{port}")
        if args.topics:
            from devstack.topics import ensure_topics_sync

            logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # connection retries are expected

            results = ensure_topics_sync(args.topics, timeout=args.timeout)
            created = sum(r.status == "created" for r in results)
            print(f"wait_then: {len(results)} topics ready ({created} created)", file=sys.stderr, flush=True)
    except Exception as exc:
        print(f"wait_then: giving up: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(3) from exc
    print(f"wait_then: dependencies ready after {time.monotonic() - started:.1f}s; starting {command[0]}",
          file=sys.stderr, flush=True)
    if os.path.basename(command[0]) == "ow-serve":  # in this process: no second interpreter start
        from servicekit.server import main as serve

        serve(command[1:])
        return
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()

"""The servers the services use outlive them: on the runner's SIGTERM (to every process
group at once) the wrapped server keeps running while a service process of the platform
is alive, and stops once it is gone; a server that crashes ends its wrapper with its code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from devstack.stack import MARKER
from tests.support.waiting import wait_for

SERVER = """
import signal, sys, time, pathlib
out = pathlib.Path(sys.argv[1])
signal.signal(signal.SIGTERM, lambda *_: (out.write_text("stopped"), sys.exit(0)))
out.write_text("running")
while True:
    time.sleep(0.05)
"""


def test_the_server_stops_only_after_the_service_is_gone(tmp_path) -> None:
    env = {**os.environ, MARKER: str(tmp_path)}  # one platform: the wrapper's and the service's marker
    # a service as the runner starts it: its own session, launched through devstack.wait_then
    service = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "devstack.wait_then"],
                               env=env, start_new_session=True)
    state = tmp_path / "state"
    log = tmp_path / "wrapper.log"
    wrapper = subprocess.Popen([sys.executable, "-m", "devstack.outlive", "--grace", "60", "--",
                                sys.executable, "-c", SERVER, str(state)],
                               env=env, start_new_session=True, stderr=log.open("wb"))
    try:
        wait_for(lambda: state.exists() and state.read_text() == "running", what="the server running")
        os.killpg(wrapper.pid, signal.SIGTERM)  # what honcho does to every process group at once
        # the wrapper got it (it is still waiting for the service) and the server did not
        wait_for(lambda: "outlive: stopping" in log.read_text(), what="the wrapper waiting for the service")
        assert state.read_text() == "running" and wrapper.poll() is None
        service.kill()  # the service has stopped
        service.wait()
        assert wrapper.wait(timeout=30) == 0
        assert state.read_text() == "stopped"
    finally:
        if service.poll() is None:
            service.kill()
        if wrapper.poll() is None:
            wrapper.kill()


def test_a_server_that_exits_ends_its_wrapper_with_its_code(tmp_path) -> None:
    wrapper = subprocess.Popen([sys.executable, "-m", "devstack.outlive", "--",
                                sys.executable, "-c", "import sys; sys.exit(7)"])
    assert wrapper.wait(timeout=30) == 7

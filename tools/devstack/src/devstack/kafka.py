"""The embedded Apache Kafka broker: one KRaft node (broker + controller) in one JVM.

    python -m devstack.kafka --data-dir var/kafka [--host H] [--port P] [--controller-port C]

renders ``config/kafka/server.properties`` into ``<data-dir>/server.properties`` (the
addresses and ``log.dirs`` replaced), formats ``<data-dir>/data`` on the first start
(``kafka.tools.StorageTool format``, a new cluster id), then replaces itself with
``java ... kafka.Kafka <data-dir>/server.properties``, so a process runner's signals reach
the JVM. Used by ``make run`` (through honcho) and, as functions, by
:func:`devstack.servers.start_embedded` (tests, bench).

The jars come from ``make install`` (``tools/kafka/pom.xml`` -> ``.tools/kafka/lib``); Java
17 or newer must be on PATH (or ``JAVA_HOME``). JVM options: ``KAFKA_HEAP_OPTS`` and
``KAFKA_JVM_PERFORMANCE_OPTS`` replace the defaults below, as in Kafka's own scripts;
``KAFKA_LOG_LEVEL`` sets the broker's log level (WARN).
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

# A small heap is plenty for a development broker (idle ~100 MiB used); G1 with short
# pauses and few GC threads for a 2-core machine.
HEAP_OPTS = ["-Xms128m", "-Xmx512m"]
JVM_PERFORMANCE_OPTS = [
    "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent", "-XX:ParallelGCThreads=2", "-XX:ConcGCThreads=1",
    "-XX:CICompilerCount=2", "-Djava.awt.headless=true",
]
MIN_JAVA = 17


class KafkaSetupError(RuntimeError):
    """Java, the jars or the storage format are missing or wrong: a readable reason."""


# -- where things are -----------------------------------------------------------------------
def root() -> Path:
    """The workspace root: ``DEVSTACK_ROOT``, else the checkout this module lives in
    (an editable install), else the workspace above the current directory."""
    if os.environ.get("DEVSTACK_ROOT"):
        return Path(os.environ["DEVSTACK_ROOT"]).resolve()
    here = Path(__file__).resolve()
    if len(here.parents) > 4 and (here.parents[4] / "config" / "kafka").is_dir():
        return here.parents[4]
    from devstack.stack import find_root

    return find_root()


def lib_dir() -> Path:
    return Path(os.environ.get("DEVSTACK_KAFKA_LIB") or root() / ".tools" / "kafka" / "lib")


def config_template() -> Path:
    return root() / "config" / "kafka" / "server.properties"


def log4j_config() -> Path:
    return root() / "config" / "kafka" / "log4j2.properties"


def kafka_version() -> str | None:
    """The version of the fetched jars (from the kafka_2.13 jar's name), or None."""
    for jar in sorted(lib_dir().glob("kafka_2.13-*.jar")):
        return jar.name.removeprefix("kafka_2.13-").removesuffix(".jar")
    return None


# -- checks -------------------------------------------------------------------------------
def java_bin() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise KafkaSetupError(f"the embedded broker (Apache Kafka) needs Java {MIN_JAVA} or newer, and no "
                              "`java` is on PATH (nor in JAVA_HOME). Install a JRE/JDK 17+ (e.g. "
                              "`apt-get install openjdk-17-jre-headless`), or use another broker with "
                              "KAFKA_BOOTSTRAP_SERVERS.")
    return found


def java_major(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return 0
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def check(java: str | None = None) -> str:
    """The java executable, after checking its version and the jars; else KafkaSetupError."""
    java = java or java_bin()
    major = java_major(java)
    if major < MIN_JAVA:
        raise KafkaSetupError(f"the embedded broker (Apache Kafka 4) needs Java {MIN_JAVA} or newer; "
                              f"{java} is Java {major or '(unknown version)'}. Install a JRE/JDK 17+ or "
                              "point JAVA_HOME at one.")
    if kafka_version() is None:
        raise KafkaSetupError(f"no Apache Kafka jars in {lib_dir()}: run `make install` (needs Java "
                              f"{MIN_JAVA} and Maven; fetches them from Maven Central per tools/kafka/pom.xml).")
    return java


# -- configuration ------------------------------------------------------------------------
def render(template: str, overrides: dict[str, str]) -> str:
    """``template`` (a .properties text) with each key of ``overrides`` set: a line that sets
    it is replaced, a missing key appended."""
    out: list[str] = []
    left = dict(overrides)
    for line in template.splitlines():
        key = line.split("=", 1)[0].strip() if "=" in line and not line.lstrip().startswith(("#", "!")) else None
        if key is not None and key in overrides:
            if key in left:
                out.append(f"{key}={left.pop(key)}")
            continue  # a repeated key: keep the first (replaced) only
        out.append(line)
    out += [f"{k}={v}" for k, v in left.items()]
    return "\n".join(out) + "\n"


def addresses(host: str, port: int, controller_port: int, data: Path) -> dict[str, str]:
    return {
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.quorum.voters": f"1@{host}:{controller_port}",
        "log.dirs": str(data),
    }


def new_cluster_id() -> str:
    """A Kafka cluster id: a random UUID, URL-safe base64 without padding (22 characters)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def java_command(java: str, main: str, *args: str) -> list[str]:
    heap = shlex.split(os.environ["KAFKA_HEAP_OPTS"]) if os.environ.get("KAFKA_HEAP_OPTS") else HEAP_OPTS
    perf = (shlex.split(os.environ["KAFKA_JVM_PERFORMANCE_OPTS"])
            if os.environ.get("KAFKA_JVM_PERFORMANCE_OPTS") else JVM_PERFORMANCE_OPTS)
    return [java, *heap, *perf, f"-Dlog4j2.configurationFile={log4j_config()}",
            "-cp", f"{lib_dir()}/*", main, *args]


def prepare(data_dir: Path, host: str = "127.0.0.1", port: int = 19092, controller_port: int | None = None,
            java: str | None = None) -> list[str]:
    """Render the configuration, format the storage if it never was, and return the broker's
    command line. Raises KafkaSetupError with the reason (and the tool's output)."""
    java = check(java)
    controller_port = controller_port or port + 1
    data_dir = Path(data_dir).resolve()
    data = data_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "server.properties"
    text = render(config_template().read_text(), addresses(host, port, controller_port, data))
    config.write_text("# Written by devstack.kafka from config/kafka/server.properties on every start.\n" + text)
    if not (data / "meta.properties").is_file():
        cmd = java_command(java, "kafka.tools.StorageTool", "format", "--config", str(config),
                           f"--cluster-id={new_cluster_id()}", "--ignore-formatted")  # an id may start with '-' 
        env = dict(os.environ, KAFKA_LOG_LEVEL=os.environ.get("KAFKA_LOG_LEVEL", "WARN"))
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        if done.returncode != 0 or not (data / "meta.properties").is_file():
            out = (done.stdout + done.stderr).strip().splitlines()[-20:]
            raise KafkaSetupError(f"formatting {data} failed (exit {done.returncode}):\n" + "\n".join(out))
    return java_command(java, "kafka.Kafka", str(config))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m devstack.kafka", description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, required=True, help="configuration and log of the broker")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=19092, help="the Kafka listener (clients)")
    p.add_argument("--controller-port", type=int, default=None, help="the KRaft controller (default: port + 1)")
    args = p.parse_args(argv)
    try:
        cmd = prepare(args.data_dir, args.host, args.port, args.controller_port)
    except KafkaSetupError as exc:
        print(f"devstack.kafka: error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from exc
    print(f"devstack.kafka: starting Apache Kafka {kafka_version()} on {args.host}:{args.port} "
          f"(data in {args.data_dir})", file=sys.stderr, flush=True)
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()

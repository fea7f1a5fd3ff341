"""Kafka ACLs from the topic registry (``python -m contracts.acls`` writes deploy/kafka/acls.sh).

Each service connects as principal ``User:<service>`` (SASL; the partner agencies' bridge
for ``departments`` as ``User:departments``). A private topic is written by its producer
and read by its listed consumers only; a public topic is read by every service; each
service writes its own dead-letter topic, which operators (``User:operator``) read. With
``allow.everyone.if.no.acl.found=false`` on the brokers nothing else is allowed."""

from __future__ import annotations

from contracts.topics import EXTERNAL_PRODUCERS, SERVICES, TOPICS, dead_letter_topic

OPERATOR = "operator"


def _acl(principal: str, operation: str, topic: str) -> str:
    return (f'kafka-acls.sh --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" --add '
            f"--allow-principal User:{principal} --operation {operation} --topic {topic}")


def grants() -> list[tuple[str, str, str]]:
    """(principal, operation, topic) for every allowed access, in a stable order."""
    out: list[tuple[str, str, str]] = []
    for spec in TOPICS:
        out.append((spec.producer, "Write", spec.name))
        readers = spec.consumers if spec.private else tuple(s for s in SERVICES if s != spec.producer)
        if "department" in spec.event.model_fields and spec.producer not in EXTERNAL_PRODUCERS:
            readers += EXTERNAL_PRODUCERS  # requests addressed to the departments' systems
        out += [(reader, "Read", spec.name) for reader in readers]
    for service in SERVICES:
        out.append((service, "Write", dead_letter_topic(service)))
        out.append((OPERATOR, "Read", dead_letter_topic(service)))
    return out


def script() -> str:
    lines = [
        "#!/usr/bin/env bash",
        "# Kafka ACLs per service principal, generated from contracts/ (python -m contracts.acls); do not edit.",
        "# BOOTSTRAP=host:9093 ADMIN_CONFIG=admin.properties deploy/kafka/acls.sh",
        "# Brokers run with allow.everyone.if.no.acl.found=false and SASL (see deploy/README.md).",
        "set -euo pipefail",
        ': "${BOOTSTRAP:?}" "${ADMIN_CONFIG:?}"',
        "",
    ]
    lines += [_acl(p, op, t) for p, op, t in grants()]
    principals = sorted({*SERVICES, *EXTERNAL_PRODUCERS})
    lines.append("# consumer groups: each service reads in the group named after it")
    lines += [f'kafka-acls.sh --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" --add '
              f"--allow-principal User:{p} --operation Read --group {p}" for p in principals]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(script(), end="")

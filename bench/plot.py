"""The bench curve as a PNG: offered rate → completed/s and p50/p99 latency, for
registration (cases/s) and notifications (messages/s), so the knee is visible."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: write a file
import matplotlib.pyplot as plt

PANELS = (("registration", "cases/s", "submission → completion"),
          ("notifications", "messages/s", "event → SMS received"))


def plot_curve(curve: dict[str, list[dict[str, Any]]], out: Path, title: str = "") -> Path | None:
    """``curve[pipeline]`` = points ``{offered, completed_per_s, p50_ms, p99_ms}``; None if empty."""
    panels = [(name, unit, what) for name, unit, what in PANELS if curve.get(name)]
    if not panels:
        return None
    fig, axes = plt.subplots(2, len(panels), figsize=(6 * len(panels), 7), squeeze=False)
    for col, (name, unit, what) in enumerate(panels):
        points = sorted(curve[name], key=lambda p: p["offered"])
        offered = [p["offered"] for p in points]
        top, bottom = axes[0][col], axes[1][col]
        top.plot(offered, [p.get("completed_per_s") or 0 for p in points], "o-", label="completed")
        top.plot(offered, offered, ":", color="grey", label="offered")
        top.set(title=f"{name}: throughput", xlabel=f"offered ({unit})", ylabel=f"completed ({unit})")
        top.legend()
        for key, style in (("p50_ms", "o-"), ("p99_ms", "s--")):
            bottom.plot(offered, [p.get(key) or float("nan") for p in points], style, label=key[:3])
        bottom.set_yscale("log")
        bottom.set(title=f"{name}: latency, {what}", xlabel=f"offered ({unit})", ylabel="ms")
        bottom.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out

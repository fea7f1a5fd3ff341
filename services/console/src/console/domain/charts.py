"""Charts as data: Chart.js configurations built from tables, pure (no I/O, no JavaScript).

A page puts a chart's configuration as JSON in ``<script type="application/json" id=...>``
and ``static/console.js`` draws it on the ``<canvas data-chart=id>`` (no inline script: the
Content-Security-Policy allows the console's own files only). The configuration holds
numbers and labels only (no callbacks), so rates are given in percent (0-100) with the axis
fixed to 0-100. Every chart is drawn from a :class:`Table`, and the page shows that same
table beside it (and offers it as CSV): the chart is for looking, the table for reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Colours with at least 4.5:1 against white (a bar's label and its legend swatch stay readable).
PALETTE = ("#1d4ed8", "#b3261e", "#1b6e3a", "#8a5300", "#6b21a8", "#0f766e")

Cell = str | int | float | None


@dataclass(frozen=True)
class Series:
    """One dataset of a chart: the values of one column of its table."""

    label: str
    column: int
    color: str = PALETTE[0]


@dataclass(frozen=True)
class Table:
    """A table of a page (and its CSV file): ``rows`` hold display-ready cells, ``None`` for
    "no figure" (— on the page, empty in the CSV). ``chart`` says how it is drawn, if at all."""

    name: str
    caption: str
    headers: tuple[str, ...]
    rows: list[tuple[Cell, ...]] = field(default_factory=list)
    chart: ChartSpec | None = None

    def column(self, index: int) -> list[Cell]:
        return [row[index] for row in self.rows]

    def spec(self) -> dict[str, Any] | None:
        return self.chart.build(self) if self.chart is not None and self.rows else None


@dataclass(frozen=True)
class ChartSpec:
    """How a table is drawn: ``kind`` bar|line|doughnut, labels from column ``label_column``,
    one dataset per series. ``percent``: the values are rates in percent (axis 0-100)."""

    kind: str
    series: tuple[Series, ...]
    label_column: int = 0
    percent: bool = False
    horizontal: bool = False
    stacked: bool = False
    axis_title: str = ""

    def build(self, table: Table) -> dict[str, Any]:
        labels = [("—" if v is None else str(v)) for v in table.column(self.label_column)]
        if self.kind == "doughnut":
            s = self.series[0]
            return {"type": "doughnut",
                    "data": {"labels": [x.label for x in self.series],
                             "datasets": [{"label": table.caption,
                                           "data": [_number(table.rows[0][x.column]) for x in self.series],
                                           "backgroundColor": [x.color for x in self.series]}]},
                    "options": {"plugins": {"legend": {"position": "bottom"},
                                            "title": {"display": False, "text": s.label}}}}
        datasets = [{"label": s.label, "data": [_number(v) for v in table.column(s.column)],
                     "backgroundColor": s.color, "borderColor": s.color,
                     **({"fill": False, "tension": 0.2, "spanGaps": True} if self.kind == "line" else {})}
                    for s in self.series]
        value_axis: dict[str, Any] = {"beginAtZero": True, "stacked": self.stacked,
                                      "title": {"display": bool(self.axis_title), "text": self.axis_title}}
        if self.percent:
            value_axis.update(min=0, max=100)
        else:
            value_axis["ticks"] = {"precision": 0}
        category_axis: dict[str, Any] = {"stacked": self.stacked}
        scales = ({"x": value_axis, "y": category_axis} if self.horizontal else {"x": category_axis, "y": value_axis})
        options: dict[str, Any] = {"scales": scales, "plugins": {"legend": {"position": "bottom"}}}
        if self.horizontal:
            options["indexAxis"] = "y"
        return {"type": self.kind, "data": {"labels": labels, "datasets": datasets}, "options": options}


def _number(value: Cell) -> float | int | None:
    """A chart point: a number, or ``None`` (a gap) for a missing or non-numeric cell."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    return None


def percent(rate: Any) -> float | None:
    """A rate (0-1) as a percentage with one decimal (95.0), ``None`` when there is none."""
    if rate is None or isinstance(rate, bool) or not isinstance(rate, int | float):
        return None
    return round(float(rate) * 100, 1)

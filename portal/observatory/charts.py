"""Charts every page of the portal draws the same way: horizontal bars in server-side SVG.

A chart is laid out here (positions, lengths, tick marks) and drawn by the Jinja macro
``templates/observatory/_charts.html``, which escapes every label. Each chart carries a title,
a description read by screen readers and the figures it shows, which the page also prints
as a table: the SVG is a picture of a table, never the only way to read the numbers.

Written here rather than taken from a charting library: the few server-side SVG libraries
for Python emit charts without <title>/<desc> wiring, with inline scripts or styles the
portal's content security policy refuses, and a bar chart is some thirty lines of arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from flask_babel import format_decimal

# Geometry in SVG user units; the picture scales to the width of its container.
WIDTH = 660
LABEL_WIDTH = 250
VALUE_GAP = 8
VALUE_WIDTH = 70
BAR_HEIGHT = 22
BAR_GAP = 10
TOP = 8
AXIS_HEIGHT = 24


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    display: str  # the value as the table and the chart print it
    y: float
    length: float


@dataclass(frozen=True)
class Tick:
    x: float
    display: str


@dataclass
class BarChart:
    """One horizontal bar chart, ready for the template."""

    id: str
    title: str
    description: str
    column_label: str  # header of the category column in the table
    value_label: str  # header of the value column in the table
    bars: list[Bar] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    width: int = WIDTH
    label_width: int = LABEL_WIDTH
    plot_width: float = 0
    height: float = 0

    @property
    def total(self) -> float:
        return sum(bar.value for bar in self.bars)

    @property
    def empty(self) -> bool:
        return not self.bars or all(bar.value == 0 for bar in self.bars)


def nice_maximum(value: float) -> float:
    """The smallest round number (1, 2, 2.5 or 5 times a power of ten) at least ``value``."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def bar_chart(
    *,
    id: str,
    title: str,
    description: str,
    column_label: str,
    value_label: str,
    rows: Sequence[tuple[str, float, str]],
    ticks: int = 4,
) -> BarChart:
    """Lay out ``rows`` of (label, value, value as text) as horizontal bars, in the given order."""
    plot_width = WIDTH - LABEL_WIDTH - VALUE_GAP - VALUE_WIDTH
    maximum = nice_maximum(max((value for _label, value, _text in rows), default=0))
    chart = BarChart(
        id=id,
        title=title,
        description=description,
        column_label=column_label,
        value_label=value_label,
        plot_width=plot_width,
    )
    for index, (label, value, text) in enumerate(rows):
        chart.bars.append(
            Bar(
                label=label,
                value=value,
                display=text,
                y=TOP + index * (BAR_HEIGHT + BAR_GAP),
                length=round(plot_width * max(value, 0) / maximum, 2),
            )
        )
    for step in range(ticks + 1):
        amount = maximum * step / ticks
        chart.ticks.append(
            Tick(
                x=round(LABEL_WIDTH + plot_width * step / ticks, 2),
                display=format_decimal(amount),
            )
        )
    chart.height = TOP + len(rows) * (BAR_HEIGHT + BAR_GAP) + AXIS_HEIGHT
    return chart

"""What a history chart is made of, without matplotlib: its points, its labels, its limits.

The bot's process builds these and checks them (``check_history``) before handing them
to a chart worker (``assessment.chart_worker``), which alone imports ``assessment.charts``
and with it matplotlib: importing this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

MAX_POINTS = 12

# CJK fonts Debian ships, in order of preference (README: fonts-wqy-microhei). A chart
# without one still renders, with empty boxes for the CJK text and a warning.
CJK_FONT_FILES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """One period of the chart: its label (``2026-11``), its score, its grade's label."""

    period_label: str
    score: Decimal | None
    grade_label: str | None = None


@dataclass(frozen=True, slots=True)
class ChartLabels:
    """The chart's texts, translated by the caller."""

    title: str
    y_axis: str
    # Shown in the middle when no period has a score yet.
    no_scores: str = ""


def check_history(points: Sequence[HistoryPoint]) -> None:
    """Raise ``ValueError`` unless ``points`` make a chart: 1 to 12, scores within 0-100."""
    if not 1 <= len(points) <= MAX_POINTS:
        raise ValueError(f"a chart has 1 to {MAX_POINTS} points, not {len(points)}")
    for point in points:
        if point.score is not None and not Decimal(0) <= point.score <= Decimal(100):
            raise ValueError(f"score {point.score} of {point.period_label} is not in 0-100")

"""The chart of a person's last periods: a small PNG, drawn with matplotlib's Agg backend.

One line of scores from 0 to 100, oldest period on the left; a period without a score
is a gap in the line, never a zero. The policy's grade thresholds are faint lines with
their labels at the right; the latest score is a larger dot with its value (and grade)
beside it. Every text comes from the caller, already translated.

Drawing is pure CPU work: the bot calls it through ``assessment.chart_worker`` so that it
never runs on the event loop. Within a process one figure is kept and its artists
updated from chart to chart (a figure built anew costs more than drawing it); calls
from several threads take turns. What charts share (title, axis label, periods and
thresholds) is drawn once: give everyone of a notice run the same periods, with no score
where a newcomer has none, and their charts cost a few milliseconds each.

Typical use::

    png = render_history(
        [HistoryPoint("2026-10", Decimal("88.5"), "Excellent"), ...],
        ChartLabels(title=_("Your score, last 12 periods"), y_axis=_("Score")),
        thresholds=[(Decimal(90), _("Excellent")), (Decimal(75), _("Good"))],
    )
"""

from __future__ import annotations

import io
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from matplotlib import font_manager
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.text import Text
from PIL import Image

from assessment.chart_data import (
    CJK_FONT_FILES,
    MAX_POINTS,
    ChartLabels,
    HistoryPoint,
    check_history,
)

__all__ = [
    "CJK_FONT_FILES",
    "DPI",
    "HEIGHT_PX",
    "MAX_POINTS",
    "WIDTH_PX",
    "ChartFont",
    "ChartLabels",
    "HistoryPoint",
    "check_history",
    "find_cjk_font",
    "render_history",
    "warm_up",
]

WIDTH_PX = 800
HEIGHT_PX = 450
DPI = 100
# Backgrounds kept per process (1.4 MB each).
BACKGROUNDS_KEPT = 16
# The axes within the figure, as fractions from its bottom left: left, bottom, right, top.
# The right margin holds the thresholds' labels.
PLOT_AREA = (0.09, 0.15, 0.86, 0.86)

# Latin text and digits in matplotlib's own font; the CJK font fills in the rest.
LATIN_FAMILY = "DejaVu Sans"

LINE_COLOUR = "#1f5fa8"
LATEST_COLOUR = "#c0392b"
THRESHOLD_COLOUR = "#9aa5b1"
TEXT_COLOUR = "#2b2b2b"
MUTED_COLOUR = "#6b7785"
# Anti-aliased edges are blends of each colour with the white background, in this many
# steps. zlib's level 1 against its default 6: 13 KB instead of 10 KB a chart, and a
# millisecond less of a chart's 5 to 6 ms.
_BLEND_STEPS = 16
_COMPRESS_LEVEL = 1


@dataclass(frozen=True, slots=True)
class ChartFont:
    """The font families texts are drawn in, and the CJK font file found (None: none)."""

    families: tuple[str, ...]
    cjk_file: str | None


def find_cjk_font(candidates: Sequence[str] = CJK_FONT_FILES) -> ChartFont:
    """Register the first CJK font file that exists with matplotlib; families to draw in."""
    for candidate in candidates:
        if Path(candidate).is_file():
            known = (entry.fname for entry in font_manager.fontManager.ttflist)
            if candidate not in known:
                font_manager.fontManager.addfont(candidate)
            name = FontProperties(fname=candidate).get_name()
            return ChartFont((LATIN_FAMILY, name), candidate)
    return ChartFont((LATIN_FAMILY,), None)


def render_history(
    points: Sequence[HistoryPoint],
    labels: ChartLabels,
    *,
    thresholds: Sequence[tuple[Decimal, str]] = (),
) -> bytes:
    """The PNG of ``points`` (oldest first, 1 to ``MAX_POINTS``), ``WIDTH_PX`` x ``HEIGHT_PX``.

    ``thresholds`` are the grades' lower bounds with their labels, in any order.

    Raises:
        ValueError: no points, more than ``MAX_POINTS``, or a score outside 0-100.
    """
    check_history(points)
    with _chart_lock:
        return _chart().draw(points, labels, thresholds)


_chart_lock = threading.Lock()
_the_chart: HistoryChart | None = None


def _chart() -> HistoryChart:
    global _the_chart
    if _the_chart is None:
        _the_chart = HistoryChart(find_cjk_font())
    return _the_chart


def warm_up() -> ChartFont:
    """Build this process's figure and load its fonts now (a worker does it once, at start)."""
    with _chart_lock:
        chart = _chart()
        chart.draw(
            [HistoryPoint("0", Decimal(50), "A"), HistoryPoint("1", None)],
            ChartLabels("标题 Title", "分数"),
            [(Decimal(60), "合格")],
        )
        return chart.font


class HistoryChart:
    """One figure, kept, whose artists each chart updates (``render_history`` keeps one).

    What several charts share (title, axes, periods, thresholds: the background) is
    drawn once and kept as pixels; each chart restores it and draws only its line, its
    latest point and that point's value on top (matplotlib's blitting).
    """

    def __init__(self, font: ChartFont) -> None:
        self.font = font
        families = list(font.families)
        self._text = FontProperties(family=families, size=12)
        self._small = FontProperties(family=families, size=10)
        self._title = FontProperties(family=families, size=15)
        self._value = FontProperties(family=families, size=13)

        figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, facecolor="white")
        self._figure = figure
        self._canvas = FigureCanvasAgg(figure)
        # Fixed margins: tight_layout would measure every text on every chart.
        left, bottom, right, top = PLOT_AREA
        figure.subplots_adjust(left=left, right=right, top=top, bottom=bottom)
        axes = figure.add_subplot()
        axes.set_ylim(0, 100)
        axes.set_yticks(range(0, 101, 20))
        axes.set_autoscale_on(False)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        for side in ("left", "bottom"):
            axes.spines[side].set_color(MUTED_COLOUR)
        axes.tick_params(colors=MUTED_COLOUR, labelcolor=TEXT_COLOUR, length=3)
        for label in axes.get_yticklabels():
            label.set_fontproperties(self._text)
        self._axes = axes
        self._heading = figure.text(
            0.09, 0.93, "", fontproperties=self._title, color=TEXT_COLOUR, va="center"
        )
        self._y_label = axes.set_ylabel("", fontproperties=self._text, color=MUTED_COLOUR)
        (self._line,) = axes.plot(
            [], [], color=LINE_COLOUR, linewidth=2.2, marker="o", markersize=6
        )
        (self._latest,) = axes.plot(
            [], [], linestyle="none", marker="o", markersize=11, color=LATEST_COLOUR, zorder=4
        )
        self._latest_text = axes.text(
            0, 0, "", fontproperties=self._value, color=LATEST_COLOUR, va="bottom", zorder=5
        )
        self._empty = axes.text(
            0.5, 0.5, "", transform=axes.transAxes, ha="center", va="center",
            fontproperties=self._text, color=MUTED_COLOUR,
        )  # fmt: skip
        self._moving = (self._line, self._latest, self._latest_text, self._empty)
        self._threshold_artists: list[Artist] = []
        # The last backgrounds drawn, the latest last: a department's notices come in a
        # few languages, histories of a few lengths and the thresholds of a few post types.
        self._backgrounds: OrderedDict[tuple[object, ...], object] = OrderedDict()
        self._background: object = None

    def draw(
        self,
        points: Sequence[HistoryPoint],
        labels: ChartLabels,
        thresholds: Sequence[tuple[Decimal, str]],
    ) -> bytes:
        periods = tuple(point.period_label for point in points)
        self._set_background(labels, periods, tuple(sorted(thresholds)))
        count = len(points)
        # NaN breaks the line: a period without a score is a gap.
        ys = [math.nan if point.score is None else float(point.score) for point in points]
        self._line.set_data(range(count), ys)
        scored = [index for index, point in enumerate(points) if point.score is not None]
        if scored:
            last = scored[-1]
            point = points[last]
            value = _score_text(point.score)
            self._latest.set_data([last], [ys[last]])
            self._latest_text.set_text(f"{value}  {point.grade_label or ''}".rstrip())
            # On the side of the dot the line does not come from (a rising line comes
            # from below), within the axes; leftwards in the right half.
            before = [ys[index] for index in scored[-2:-1]]
            above = ys[last] < 8 or (ys[last] <= 92 and (not before or before[0] <= ys[last]))
            self._latest_text.set_position((last, ys[last] + (4 if above else -5)))
            self._latest_text.set_verticalalignment("bottom" if above else "top")
            self._latest_text.set_horizontalalignment("right" if last >= count / 2 else "left")
            self._empty.set_text("")
        else:
            self._latest.set_data([], [])
            self._latest_text.set_text("")
            self._empty.set_text(labels.no_scores)

        self._canvas.restore_region(self._background)
        for artist in self._moving:
            self._axes.draw_artist(artist)
        return self._png()

    def _set_background(
        self,
        labels: ChartLabels,
        periods: tuple[str, ...],
        thresholds: tuple[tuple[Decimal, str], ...],
    ) -> None:
        key = (labels.title, labels.y_axis, periods, thresholds)
        axes = self._axes
        # The line's place on the picture depends on the x axis's range (the rest is fixed).
        axes.set_xlim(-0.5, max(len(periods), 2) - 0.5)
        kept = self._backgrounds.get(key)
        if kept is not None:
            self._backgrounds.move_to_end(key)
            self._background = kept
            return
        self._heading.set_text(labels.title)
        self._y_label.set_text(labels.y_axis)
        axes.set_xticks(range(len(periods)), periods, fontproperties=self._small)
        # Twelve periods of "2026-11" do not fit side by side at phone width: slanted.
        crowded = len(periods) * max(map(len, periods)) > 60
        for tick in axes.get_xticklabels():
            tick.set_rotation(30 if crowded else 0)
            tick.set_horizontalalignment("right" if crowded else "center")
            tick.set_rotation_mode("anchor")
        for artist in self._threshold_artists:
            artist.remove()
        self._threshold_artists = []
        for minimum, label in thresholds:
            level = float(minimum)
            line = axes.axhline(level, color=THRESHOLD_COLOUR, linewidth=0.8, ls="--", zorder=1)
            text = axes.text(
                1.01, level, label, transform=axes.get_yaxis_transform(),
                fontproperties=self._small, color=MUTED_COLOUR, va="center", clip_on=False,
            )  # fmt: skip
            self._fit_in_margin(text, label)
            self._threshold_artists += [line, text]
        for artist in self._moving:
            artist.set_visible(False)
        self._canvas.draw()
        self._background = self._canvas.copy_from_bbox(self._figure.bbox)
        for artist in self._moving:
            artist.set_visible(True)
        self._backgrounds[key] = self._background
        if len(self._backgrounds) > BACKGROUNDS_KEPT:
            self._backgrounds.popitem(last=False)

    def _fit_in_margin(self, text: Text, label: str) -> None:
        """Shrink a long grade label, then break it in two, to fit the right margin."""
        room = WIDTH_PX * (1 - PLOT_AREA[2]) - 0.01 * WIDTH_PX * (PLOT_AREA[2] - PLOT_AREA[0])
        renderer = self._canvas.get_renderer()
        for size in (10, 9, 8):
            text.set_fontsize(size)
            if text.get_window_extent(renderer).width <= room:
                return
        words = label.split()
        if len(words) > 1:
            middle = len(words) // 2
            text.set_text(" ".join(words[:middle]) + "\n" + " ".join(words[middle:]))
            text.set_fontsize(9)
            text.set_linespacing(1.0)

    def _png(self) -> bytes:

        width, height = self._canvas.get_width_height()
        image = Image.frombuffer(
            "RGBA", (width, height), self._canvas.buffer_rgba(), "raw", "RGBA", 0, 1
        ).convert("RGB")
        # The chart's few colours and their anti-aliased blends with white: mapped to a
        # fixed palette, the file is a third of RGB's and takes a fraction of the time.
        indexed = image.quantize(palette=_palette(), dither=Image.Dither.NONE)
        output = io.BytesIO()
        indexed.save(output, format="PNG", compress_level=_COMPRESS_LEVEL)
        return output.getvalue()


def _palette() -> Image.Image:
    global _palette_image
    if _palette_image is None:
        colours = [(255, 255, 255)]
        for colour in (LINE_COLOUR, LATEST_COLOUR, THRESHOLD_COLOUR, TEXT_COLOUR, MUTED_COLOUR):
            red, green, blue = (int(colour[index : index + 2], 16) for index in (1, 3, 5))
            for step in range(2, _BLEND_STEPS + 1):
                share = step / _BLEND_STEPS
                colours.append(
                    (
                        round(255 + (red - 255) * share),
                        round(255 + (green - 255) * share),
                        round(255 + (blue - 255) * share),
                    )
                )
        _palette_image = Image.new("P", (1, 1))
        _palette_image.putpalette([value for colour in colours for value in colour])
    return _palette_image


_palette_image: Image.Image | None = None


def _score_text(score: Decimal | None) -> str:
    """``87.5`` for 87.50, ``90`` for 90.00: the value as the policy rounded it, less zeros."""
    if score is None:
        return ""
    text = f"{score:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text

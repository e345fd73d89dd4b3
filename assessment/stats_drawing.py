"""The statistics chart (/stats) as a PNG, drawn with matplotlib's Agg backend.

Left, each department's logging rate this period and this year (horizontal bars, in
percent); right, its published grades stacked, best grade first. Drawn in a chart
worker (``assessment.chart_worker``), never on the event loop; a figure is built per
chart (statistics are asked for rarely, unlike a run of score notices). The CJK font
is the one the history charts use (``assessment.charts.find_cjk_font``).
"""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import MaxNLocator

from assessment.charts import DPI, MUTED_COLOUR, TEXT_COLOUR, find_cjk_font
from assessment.stats_chart import StatsChart, check_stats_chart

__all__ = ["render_stats"]

WIDTH_PX = 1000
HEIGHT_PX = 560
PERIOD_COLOUR = "#1f5fa8"
YEAR_COLOUR = "#9ec1e8"
# Best grade first; more grades than colours reuse the last.
GRADE_COLOURS = ("#2e8b57", "#1f5fa8", "#f0ad4e", "#c0392b", "#7f8c8d")


def render_stats(chart: StatsChart) -> bytes:
    """The PNG of ``chart``.

    Raises:
        ValueError: the chart has no department, too many, or figures that do not fit.
    """
    check_stats_chart(chart)
    font = find_cjk_font()
    families = list(font.families)
    text = FontProperties(family=families, size=10)
    title = FontProperties(family=families, size=14)
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, facecolor="white")
    canvas = FigureCanvasAgg(figure)
    figure.subplots_adjust(left=0.17, right=0.98, top=0.85, bottom=0.2, wspace=0.45)
    figure.text(0.02, 0.94, chart.title, fontproperties=title, color=TEXT_COLOUR)
    rates, grades = figure.subplots(1, 2)
    # The first department on top.
    rows = list(range(len(chart.departments)))[::-1]
    height = 0.38
    period = [100 * (value or 0) for value in chart.period_rates]
    year = [100 * (value or 0) for value in chart.year_rates]
    rates.barh([row + height / 2 for row in rows], period, height, color=PERIOD_COLOUR,
               label=chart.period_label)  # fmt: skip
    rates.barh([row - height / 2 for row in rows], year, height, color=YEAR_COLOUR,
               label=chart.year_label)  # fmt: skip
    for offset, shares in ((height / 2, chart.period_rates), (-height / 2, chart.year_rates)):
        for row, value in zip(rows, shares, strict=True):
            if value is not None:
                rates.text(100 * value + 1, row + offset, f"{100 * value:.0f}%",
                           va="center", fontproperties=text, color=TEXT_COLOUR)  # fmt: skip
    rates.set_xlim(0, 112)
    rates.set_yticks(rows, chart.departments, fontproperties=text)
    rates.set_title(chart.rates_title, fontproperties=text, color=TEXT_COLOUR)
    rates.legend(prop=text, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, frameon=False)
    grades.set_title(chart.grades_title, fontproperties=text, color=TEXT_COLOUR)
    if chart.grade_counts and any(any(row) for row in chart.grade_counts):
        left = [0] * len(rows)
        for index, name in enumerate(chart.grade_names):
            counts = [row[index] for row in chart.grade_counts]
            colour = GRADE_COLOURS[min(index, len(GRADE_COLOURS) - 1)]
            grades.barh(rows, counts, 0.6, left=left, color=colour, label=name)
            left = [a + b for a, b in zip(left, counts, strict=True)]
        grades.set_yticks(rows, chart.departments, fontproperties=text)
        grades.xaxis.set_major_locator(MaxNLocator(integer=True))
        grades.legend(
            prop=text, loc="upper center", bbox_to_anchor=(0.5, -0.08),
            ncol=len(chart.grade_names), frameon=False,
        )  # fmt: skip
    else:
        grades.set_yticks([])
        grades.set_xticks([])
        grades.text(0.5, 0.5, chart.no_grades, transform=grades.transAxes, ha="center",
                    va="center", fontproperties=text, color=MUTED_COLOUR)  # fmt: skip
    for axes in (rates, grades):
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        axes.tick_params(colors=MUTED_COLOUR, labelcolor=TEXT_COLOUR, length=3)
    canvas.draw()
    output = io.BytesIO()
    canvas.print_png(output)
    return output.getvalue()

"""The statistics' pure parts: median, rates, the chart's checks and its drawing."""

from __future__ import annotations

import dataclasses
import io

import pytest
from PIL import Image

from assessment.stats import median, rate
from assessment.stats_chart import MAX_DEPARTMENTS, StatsChart, check_stats_chart
from assessment.stats_drawing import HEIGHT_PX, WIDTH_PX, render_stats


def test_median_of_odd_and_even_counts_and_of_nothing() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert median([7.0]) == 7.0
    assert median([]) is None


def test_rate_is_a_share_of_person_workdays() -> None:
    assert rate(5, 4, 5) == 0.25
    assert rate(0, 3, 10) == 0.0
    assert rate(3, 1, 2) == 1.0, "never above all of them"
    assert rate(0, 0, 5) is None
    assert rate(0, 4, 0) is None, "no workday yet"


def _chart(**changes: object) -> StatsChart:
    chart = StatsChart(
        title="统计 Statistics",
        rates_title="Logging rate",
        grades_title="Grades",
        period_label="2026年11月",
        year_label="2026",
        no_grades="No published results",
        departments=("人事处", "Permits Office"),
        period_rates=(0.2, 0.25),
        year_rates=(None, 0.01),
        grade_names=("优秀", "Good"),
        grade_counts=((1, 0), (1, 3)),
    )
    return dataclasses.replace(chart, **changes)  # type: ignore[arg-type]


def test_the_chart_is_a_png_of_its_size() -> None:
    png = render_stats(_chart())
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (WIDTH_PX, HEIGHT_PX)
    assert render_stats(_chart(grade_counts=())) != png, "without grades: the note instead"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"departments": (), "period_rates": (), "year_rates": ()}, "1 to 12 departments"),
        ({"departments": ("x",) * (MAX_DEPARTMENTS + 1)}, "1 to 12 departments"),
        ({"period_rates": (0.2,)}, "one period rate"),
        ({"year_rates": (0.2, 1.5)}, "not a share"),
        ({"grade_counts": ((1, 0),)}, "one row of grade counts"),
        ({"grade_counts": ((1, 0), (1, -1))}, "not negative"),
    ],
)
def test_a_chart_that_does_not_fit_is_refused(changes: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_stats_chart(_chart(**changes))

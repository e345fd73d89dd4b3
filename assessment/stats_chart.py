"""What the statistics chart is made of, without matplotlib (``assessment.stats_drawing``
draws it in a chart worker): departments' logging rates and published grades.
"""

from __future__ import annotations

from dataclasses import dataclass

# Departments beyond these are left to the text: bars stay readable at phone width.
MAX_DEPARTMENTS = 12


@dataclass(frozen=True, slots=True)
class StatsChart:
    """The chart's figures and texts, translated by the caller.

    ``period_rates`` and ``year_rates`` are shares from 0 to 1 (None: no workday yet),
    one per department; ``grade_counts`` one row per department, one count per grade
    of ``grade_names`` (best first).
    """

    title: str
    rates_title: str
    grades_title: str
    period_label: str
    year_label: str
    no_grades: str
    departments: tuple[str, ...]
    period_rates: tuple[float | None, ...]
    year_rates: tuple[float | None, ...]
    grade_names: tuple[str, ...]
    grade_counts: tuple[tuple[int, ...], ...]


def check_stats_chart(chart: StatsChart) -> None:
    """Raise ``ValueError`` unless ``chart`` can be drawn."""
    count = len(chart.departments)
    if not 1 <= count <= MAX_DEPARTMENTS:
        raise ValueError(f"a statistics chart has 1 to {MAX_DEPARTMENTS} departments, not {count}")
    if len(chart.period_rates) != count or len(chart.year_rates) != count:
        raise ValueError("one period rate and one year rate per department")
    if chart.grade_counts and len(chart.grade_counts) != count:
        raise ValueError("one row of grade counts per department")
    for row in chart.grade_counts:
        if len(row) != len(chart.grade_names) or any(value < 0 for value in row):
            raise ValueError("one count, not negative, per grade")
    for value in (*chart.period_rates, *chart.year_rates):
        if value is not None and not 0 <= value <= 1:
            raise ValueError(f"rate {value} is not a share from 0 to 1")

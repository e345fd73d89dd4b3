"""The score-history chart: a valid small PNG whose pixels show what the history says.

Pixels are read back with Pillow at the places the layout puts each period
(``PLOT_AREA``): the line's colour where a score is, none where a period has none, the
latest point's colour at the last score only.
"""

from __future__ import annotations

import io
import os
import warnings
from decimal import Decimal

import pytest
from PIL import Image, ImageChops

from assessment.charts import (
    HEIGHT_PX,
    LATEST_COLOUR,
    LINE_COLOUR,
    MAX_POINTS,
    PLOT_AREA,
    WIDTH_PX,
    ChartLabels,
    HistoryChart,
    HistoryPoint,
    find_cjk_font,
    render_history,
)

LABELS = ChartLabels(title="Your score, last 12 periods", y_axis="Score", no_scores="No results")
THRESHOLDS = [
    (Decimal(90), "Excellent"),
    (Decimal(75), "Good"),
    (Decimal(60), "Competent"),
    (Decimal(50), "Basically competent"),
]


def history(*scores: int | str | None) -> list[HistoryPoint]:
    """One point a period from 2026-01 on."""
    return [
        HistoryPoint(f"2026-{index + 1:02d}", None if score is None else Decimal(score))
        for index, score in enumerate(scores)
    ]


def image(png: bytes) -> Image.Image:
    decoded = Image.open(io.BytesIO(png))
    assert decoded.format == "PNG"
    return decoded.convert("RGB")


def _rgb(colour: str) -> tuple[int, int, int]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


def slot_x(index: int, count: int) -> int:
    """The pixel column of period ``index`` of ``count`` (the x axis spans -0.5 .. n-0.5)."""
    left, _, right, _ = PLOT_AREA
    width = (right - left) * WIDTH_PX
    return round(left * WIDTH_PX + (index + 0.5) / max(count, 2) * width)


def score_y(score: float) -> int:
    """The pixel row of a score (rows count from the top)."""
    _, bottom, _, top = PLOT_AREA
    return round(HEIGHT_PX * (1 - bottom) - score / 100 * (top - bottom) * HEIGHT_PX)


def colour_count(picture: Image.Image, colour: str, x: int, y: int | None = None) -> int:
    """Pixels of ``colour`` within 4 px of column ``x`` (and of row ``y``, if given)."""
    wanted = _rgb(colour)
    top, bottom = (0, HEIGHT_PX) if y is None else (max(y - 4, 0), min(y + 5, HEIGHT_PX))
    box = picture.crop((x - 4, top, x + 5, bottom))
    colours = box.getcolors(box.width * box.height) or []
    return sum(count for count, pixel in colours if pixel == wanted)


def test_a_chart_is_a_small_png_at_phone_size() -> None:
    png = render_history(history(*range(56, 100, 4)), LABELS, thresholds=THRESHOLDS)
    assert len(png) < 60_000
    assert image(png).size == (WIDTH_PX, HEIGHT_PX)


def test_different_histories_give_different_pictures_and_the_same_one_the_same() -> None:
    first = render_history(history(60, 70, 80), LABELS, thresholds=THRESHOLDS)
    second = render_history(history(80, 70, 60), LABELS, thresholds=THRESHOLDS)
    assert ImageChops.difference(image(first), image(second)).getbbox() is not None
    # The figure is reused: nothing of the second chart is left in the next one.
    assert render_history(history(60, 70, 80), LABELS, thresholds=THRESHOLDS) == first


def test_a_period_without_a_score_is_a_gap_not_a_zero() -> None:
    gap = image(render_history(history(50, None, 50), LABELS, thresholds=THRESHOLDS))
    zero = image(render_history(history(50, 0, 50), LABELS, thresholds=THRESHOLDS))
    middle = slot_x(1, 3)
    assert colour_count(gap, LINE_COLOUR, middle) == 0
    assert colour_count(zero, LINE_COLOUR, middle, score_y(0)) > 0
    # Its neighbours are still drawn.
    assert colour_count(gap, LINE_COLOUR, slot_x(0, 3), score_y(50)) > 0


def test_the_latest_score_is_emphasised_even_when_the_last_period_has_none() -> None:
    picture = image(render_history(history(40, 70, None), LABELS, thresholds=THRESHOLDS))
    assert colour_count(picture, LATEST_COLOUR, slot_x(1, 3), score_y(70)) > 0
    assert colour_count(picture, LATEST_COLOUR, slot_x(0, 3), score_y(40)) == 0
    assert colour_count(picture, LATEST_COLOUR, slot_x(2, 3)) == 0


def test_one_point_and_twelve_points() -> None:
    one = image(render_history(history(88), LABELS, thresholds=THRESHOLDS))
    assert colour_count(one, LATEST_COLOUR, slot_x(0, 1), score_y(88)) > 0
    scores = [40 + 5 * index for index in range(MAX_POINTS)]
    twelve = image(render_history(history(*scores), LABELS, thresholds=THRESHOLDS))
    for index, score in enumerate(scores[:-1]):
        assert colour_count(twelve, LINE_COLOUR, slot_x(index, MAX_POINTS), score_y(score)) > 0
    assert colour_count(twelve, LATEST_COLOUR, slot_x(11, MAX_POINTS), score_y(95)) > 0


def test_a_history_without_any_score_says_so() -> None:
    empty = render_history(history(None, None), LABELS, thresholds=THRESHOLDS)
    silent = render_history(
        history(None, None), ChartLabels(LABELS.title, LABELS.y_axis), thresholds=THRESHOLDS
    )
    assert ImageChops.difference(image(empty), image(silent)).getbbox() is not None
    assert all(
        colour_count(image(empty), colour, slot_x(index, 2)) == 0
        for colour in (LINE_COLOUR, LATEST_COLOUR)
        for index in range(2)
    )


def test_thresholds_are_drawn_in_any_order() -> None:
    plain = render_history(history(70, 80), LABELS)
    banded = render_history(history(70, 80), LABELS, thresholds=THRESHOLDS)
    assert ImageChops.difference(image(plain), image(banded)).getbbox() is not None
    reversed_ = render_history(history(70, 80), LABELS, thresholds=THRESHOLDS[::-1])
    assert reversed_ == banded


@pytest.mark.parametrize(
    "points",
    [[], history(*[50] * (MAX_POINTS + 1)), history(50, 101), history(-1)],
    ids=["none", "thirteen", "above 100", "below 0"],
)
def test_what_is_not_a_chart_is_refused(points: list[HistoryPoint]) -> None:
    with pytest.raises(ValueError, match=r"chart has|is not in 0-100"):
        render_history(points, LABELS)


CJK_LABELS = [
    ChartLabels("近十二个周期的得分", "得分", "尚无结果"),
    ChartLabels("近十二個週期的得分", "得分", "尚無結果"),
]
CJK_THRESHOLDS = [(Decimal(90), "优秀"), (Decimal(75), "良好"), (Decimal(60), "称职")]


def _cjk_history() -> list[HistoryPoint]:
    return [
        HistoryPoint(f"{month}月", Decimal(60 + month * 2), "優秀" if month == 12 else None)
        for month in range(1, 13)
    ]


def _glyph_warnings(chart: HistoryChart, labels: ChartLabels) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chart.draw(_cjk_history(), labels, CJK_THRESHOLDS)
        chart.draw(history(None), labels, CJK_THRESHOLDS)  # the "no results" text too
    return [str(warning.message) for warning in caught if "missing from" in str(warning.message)]


@pytest.mark.parametrize("labels", CJK_LABELS, ids=["zh_Hans", "zh_Hant"])
def test_chinese_text_renders_without_missing_glyphs(labels: ChartLabels) -> None:
    font = find_cjk_font()
    if font.cjk_file is None:
        message = "no CJK font installed (README: apt-get install fonts-wqy-microhei)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    assert _glyph_warnings(HistoryChart(font), labels) == []


def test_without_a_cjk_font_a_chart_still_renders_and_the_missing_glyphs_are_noticed() -> None:
    font = find_cjk_font(["/nonexistent/font.ttc"])
    assert font.cjk_file is None
    missing = _glyph_warnings(HistoryChart(font), CJK_LABELS[0])
    assert missing and all("Glyph" in text for text in missing)


def test_charts_of_other_languages_and_lengths_in_between_change_nothing() -> None:
    twelve = history(*range(45, 100, 5))
    english = render_history(twelve, LABELS, thresholds=THRESHOLDS)
    chinese = render_history(history(70, None, 80), CJK_LABELS[0], thresholds=CJK_THRESHOLDS)
    # Back to a background drawn before: kept, with the x axis of its own length.
    assert render_history(twelve, LABELS, thresholds=THRESHOLDS) == english
    fresh = HistoryChart(find_cjk_font())
    assert fresh.draw(history(70, None, 80), CJK_LABELS[0], CJK_THRESHOLDS) == chinese

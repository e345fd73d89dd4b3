"""The score notice's text stays within Telegram's limits, whatever the breakdown holds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from assessment.period_scoring import breakdown_facts, policy_fingerprint
from assessment.results import explain
from assessment.scoring import PeriodFacts, PointsFact, QuantityFacts, RatingFacts, Scorer
from config.policy import load_policy
from handlers.formatting import MAX_CAPTION, MAX_TEXT, html_length
from handlers.scores import result_text
from locales import SUPPORTED, translator
from storage.repositories.results import PublishedScore

POLICY = load_policy()


def _published(points: int, reason: str) -> PublishedScore:
    facts = PeriodFacts(
        1,
        1,
        "law_enforcement",
        quantities={
            "case_closure_rate": QuantityFacts(Decimal(285), 3),
            "complaint_rate": QuantityFacts(Decimal(1), 1),
            "cases_handled": QuantityFacts(Decimal(46), 46),
        },
        ratings={("enforcement_compliance", "supervisor"): RatingFacts(4, 1)},
        points=tuple(PointsFact(Decimal(1), f"{reason} {n}") for n in range(points)),
    )
    score = Scorer(POLICY).score(facts)
    return PublishedScore(
        period_id=1,
        period_key="2026-11",
        starts_on=date(2026, 11, 1),
        score=score.value,
        grade_id="good",
        breakdown=breakdown_facts(facts, score.value, policy_fingerprint(POLICY)),
        published_at=datetime(2026, 12, 9, tzinfo=UTC),
        read_at=None,
    )


@pytest.mark.parametrize("locale", sorted(SUPPORTED))
@pytest.mark.parametrize("points", [0, 3, 40])
def test_the_caption_fits_and_points_to_score_when_cut(locale: str, points: int) -> None:
    result = _published(points, "Stayed late <b>&</b> closed the backlog " * 12)
    breakdown = explain(POLICY, 1, result.breakdown)
    assert breakdown is not None
    language = translator(locale)
    assert "(" not in language.gettext("{line} ({detail})") or locale == "en"
    caption = result_text(language, POLICY, result, breakdown, room=MAX_CAPTION)
    assert html_length(caption) <= MAX_CAPTION
    whole = result_text(language, POLICY, result, breakdown, room=MAX_TEXT)
    assert html_length(whole) <= MAX_TEXT
    assert "&lt;b&gt;" in whole or not points, "reasons are escaped, never markup"
    if points:
        assert caption.endswith("/score"), "reasons cut for the caption: all in /score"
    if points == 40:
        last = whole.rsplit("\n", 1)[-1]
        assert "Stayed" not in last and any(c.isdigit() for c in last), "the rest counted"


def test_the_breakdown_names_each_part_in_english() -> None:
    result = _published(1, "Night shift")
    text = result_text(
        translator("en"), POLICY, result, explain(POLICY, 1, result.breakdown), room=MAX_CAPTION
    )
    assert text.startswith("<b>Your result for November 2026</b>\nScore: <b>")
    assert "• Case closure rate: 95 × " in text
    assert "(mean of 3 entries: 95 %)" in text
    assert (
        "ratings: supervisor 4; no rating yet from self, peers, service recipients, third parties"
        in text
    )
    assert "\n+1 points\n  +1: Night shift 0" in text

"""The annual roll-up's rules on hand-worked examples, and the [annual] policy section."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from assessment.annual import (
    ORGANISATION,
    Candidate,
    Flag,
    RoutineResult,
    annual_score,
    flags_for,
    grade_after_quota,
    scope_of,
    streak,
    top_receivers,
    training_needs,
)
from config.policy import (
    DEFAULT_POLICY_PATH,
    QUARTERLY_POLICY_PATH,
    AnnualRule,
    Policy,
    PolicyError,
    load_policy,
)

DEFAULT_TEXT = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="module")
def rule(policy: Policy) -> AnnualRule:
    assert policy.annual is not None
    return policy.annual


def month(n: int, score: str, grade: str = "good", **indicators: str) -> RoutineResult:
    return RoutineResult(
        f"2026-{n:02d}", Decimal(score), grade, {k: Decimal(v) for k, v in indicators.items()}
    )


# --- the annual score -------------------------------------------------------------------


def test_the_annual_score_is_the_mean_of_the_routine_scores_rounded_once(policy: Policy) -> None:
    # 95 + 93 + 91 + 89 + 90 + 92 = 550; 550 / 6 = 91.666...; half up to 0.01: 91.67.
    year = [month(n, s) for n, s in enumerate(["95", "93", "91", "89", "90", "92"], start=1)]
    scored = annual_score(policy, year)
    assert scored.score == Decimal("91.67")
    assert scored.by_score_grade_id == "excellent"
    assert scored.periods == 6
    assert scored.barred_by == ()


def test_a_year_with_too_few_routine_results_is_not_graded(policy: Policy) -> None:
    # The default policy needs 6 published months; 5 are not enough, whatever they score.
    scored = annual_score(policy, [month(n, "99") for n in range(1, 6)])
    assert not scored.graded
    assert (scored.score, scored.by_score_grade_id, scored.periods) == (None, None, 5)


def test_grade_thresholds_of_the_annual_scale(policy: Policy) -> None:
    def grade(scores: list[str]) -> str | None:
        return annual_score(
            policy, [month(n, s) for n, s in enumerate(scores, 1)]
        ).by_score_grade_id

    assert grade(["90"] * 6) == "excellent"
    assert grade(["89.99"] * 6) == "competent"  # 称职 from 70
    assert grade(["70"] * 6) == "competent"
    assert grade(["69.99"] * 6) == "basically_competent"  # 基本称职 from 60
    assert grade(["59.99"] * 6) == "incompetent"


def test_a_bottom_routine_grade_bars_the_annual_top_grade_calibrated_or_not(
    policy: Policy,
) -> None:
    # The mean (91.67) earns Excellent, but March was graded Incompetent (the grade that
    # stood, as HR calibrated it): barred, and March is named.
    year = [month(n, s) for n, s in enumerate(["95", "93", "91", "89", "90", "92"], start=1)]
    year[2] = month(3, "91", "incompetent")
    scored = annual_score(policy, year)
    assert scored.by_score_grade_id == "excellent"
    assert scored.barred_by == ("2026-03",)


# --- training needs ---------------------------------------------------------------------


def test_a_repeated_shortfall_on_an_indicator_matches_its_training(rule: AnnualRule) -> None:
    # service_skills: on_time_completion or citizen_satisfaction below 60 in 3 periods.
    year = [
        month(1, "80", citizen_satisfaction="55"),
        month(2, "80", citizen_satisfaction="59.99"),
        month(3, "80", citizen_satisfaction="60"),  # 60 is not below 60
        month(4, "80", on_time_completion="40"),  # another indicator: its own count
        month(5, "80", citizen_satisfaction="10"),
    ]
    assert training_needs(rule, year) == ("service_skills",)
    # Two shortfalls are not a repeated one.
    assert training_needs(rule, year[:4]) == ()


def test_an_indicator_that_did_not_count_is_no_shortfall(rule: AnnualRule) -> None:
    year = [month(n, "50") for n in range(1, 13)]  # low scores, but no indicator present
    assert training_needs(rule, year) == ()


def test_trainings_are_listed_in_catalogue_order(rule: AnnualRule) -> None:
    year = [
        month(n, "50", risk_control="30", complaint_rate="20", on_time_completion="10")
        for n in range(1, 4)
    ]
    assert training_needs(rule, year) == (
        "enforcement_practice",
        "service_skills",
        "policy_execution",
    )


# --- the annual quota -------------------------------------------------------------------


def test_the_top_grade_quota_fills_whole_score_levels(rule: AnnualRule) -> None:
    # Organisation scope, 10 graded: 20% of 10 is 2. 95 fits; the two tied at 93 would
    # make 3, so neither receives it (a level is never split).
    candidates = [
        Candidate(1, ORGANISATION, Decimal("95"), False),
        Candidate(2, ORGANISATION, Decimal("93"), False),
        Candidate(3, ORGANISATION, Decimal("93"), False),
    ]
    assert top_receivers(rule, candidates, {ORGANISATION: 10}) == {1}
    # 12 graded: 2 ordinarily, 3 (25% of 12) with approval.
    assert top_receivers(rule, candidates, {ORGANISATION: 12}) == {1}
    assert top_receivers(rule, candidates, {ORGANISATION: 12}, with_approval=True) == {1, 2, 3}


def test_a_barred_candidate_never_receives_the_top_grade_nor_takes_a_place(
    rule: AnnualRule,
) -> None:
    candidates = [
        Candidate(1, ORGANISATION, Decimal("99"), True),
        Candidate(2, ORGANISATION, Decimal("93"), False),
    ]
    assert top_receivers(rule, candidates, {ORGANISATION: 5}) == {2}


def test_whoever_misses_the_top_grade_gets_the_next_one(rule: AnnualRule) -> None:
    assert grade_after_quota(rule, "excellent", receives_top=False) == "competent"
    assert grade_after_quota(rule, "excellent", receives_top=True) == "excellent"
    assert grade_after_quota(rule, "basically_competent", receives_top=False) == (
        "basically_competent"
    )
    assert scope_of(rule, 7) == ORGANISATION


# --- streaks and flags ------------------------------------------------------------------


def test_streaks_count_consecutive_years_ending_with_the_year() -> None:
    history = {2023: "excellent", 2024: "excellent", 2026: "excellent"}
    assert streak(history, 2026, "excellent") == 1  # 2025 breaks it
    assert streak(history, 2024, "excellent") == 2
    assert streak(history, 2025, "excellent") == 0


def test_three_consecutive_top_grades_earn_a_merit_once(rule: AnnualRule) -> None:
    three = {2024: "excellent", 2025: "excellent", 2026: "excellent"}
    assert Flag.MERIT in flags_for(rule, 2026, three)
    # A fourth year does not earn the merit of the same three again; a sixth does.
    four = {**three, 2027: "excellent"}
    assert Flag.MERIT not in flags_for(rule, 2027, four)
    six = {year: "excellent" for year in range(2024, 2030)}
    assert Flag.MERIT in flags_for(rule, 2029, six)
    # Two are not enough.
    assert Flag.MERIT not in flags_for(rule, 2025, three)


def test_two_consecutive_bottom_grades_raise_a_dismissal_review(rule: AnnualRule) -> None:
    assert flags_for(rule, 2026, {2025: "incompetent", 2026: "incompetent"}) == (
        Flag.DISMISSAL_REVIEW,
    )
    assert flags_for(rule, 2026, {2024: "incompetent", 2026: "incompetent"}) == ()
    assert flags_for(rule, 2026, {2025: "basically_competent", 2026: "incompetent"}) == ()


def test_promotion_needs_the_last_years_each_in_the_listed_grades(rule: AnnualRule) -> None:
    # Default policy: the last 2 years, each Excellent or Competent.
    assert flags_for(rule, 2026, {2025: "competent", 2026: "excellent"}) == (Flag.PROMOTION,)
    assert flags_for(rule, 2026, {2025: "basically_competent", 2026: "excellent"}) == ()
    assert flags_for(rule, 2026, {2026: "excellent"}) == ()  # one year only


def test_a_training_need_is_flagged_even_in_a_year_not_graded(rule: AnnualRule) -> None:
    assert flags_for(rule, 2026, {}, ["service_skills"]) == (Flag.TRAINING,)
    assert flags_for(rule, 2026, {2026: "incompetent"}, ["service_skills"]) == (Flag.TRAINING,)
    assert flags_for(rule, 2026, {}) == ()


# --- the [annual] policy section --------------------------------------------------------


def test_both_presets_have_an_annual_section() -> None:
    monthly = load_policy()
    quarterly = load_policy(QUARTERLY_POLICY_PATH)
    assert monthly.annual is not None and quarterly.annual is not None
    assert [g.names.zh_hant for g in monthly.annual.grades] == [
        "優秀",
        "稱職",
        "基本稱職",
        "不稱職",
    ]
    assert monthly.annual.bars_top_grade == ("incompetent",)
    assert quarterly.annual.bars_top_grade == ("poor",)
    assert monthly.annual.quota.top_grade_max_share == Decimal("0.2")
    assert monthly.annual.quota.with_approval_max_share == Decimal("0.25")
    assert monthly.annual.honour("service_star").names.zh_hans == "服务之星"


def _broken(tmp_path: Path, old: str, new: str, text: str = DEFAULT_TEXT) -> str:
    assert text.count(old) == 1, old
    path = tmp_path / "policy.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    return str(caught.value)


@pytest.mark.parametrize(
    ("old", "new", "key", "why"),
    [
        (
            'bars_top_grade = ["incompetent"]',
            'bars_top_grade = ["bottom"]',
            "annual.bars_top_grade[0]",
            'unknown grade "bottom"',
        ),
        (
            'indicators = ["on_time_completion", "citizen_satisfaction"]',
            'indicators = ["on_time_completion", "smiles"]',
            "annual.trainings[1].indicators[1]",
            'unknown indicator "smiles"',
        ),
        (
            'grades = ["excellent", "competent"]',
            'grades = ["excellent", "good"]',
            "annual.promotion.grades[1]",
            'unknown annual grade "good"',
        ),
        (
            "min_periods = 6",
            "min_periods = 13",
            "annual.min_periods",
            "must be at most 12 (got 13)",
        ),
        (
            "merit_streak = 3",
            "merit_streak = 0",
            "annual.merit_streak",
            "must be at least 1 (got 0)",
        ),
        ("dismissal_streak = 2", "dismissal_streak = 2.5", "annual.dismissal_streak", "whole"),
        (
            'id = "model_worker"',
            'id = "service_star"',
            "annual.honours[1].id",
            'duplicate id "service_star"',
        ),
        (
            'top_grade_max_share = 0.2\nscope = "organisation"',
            'top_grade_max_share = 0.3\nscope = "organisation"',
            "annual.quota.with_approval_max_share",
            "at least top_grade_max_share",
        ),
    ],
)
def test_a_broken_annual_section_names_the_key(
    tmp_path: Path, old: str, new: str, key: str, why: str
) -> None:
    message = _broken(tmp_path, old, new)
    assert key in message, message
    assert why in message, message


def test_annual_grades_must_fall_and_end_at_zero(tmp_path: Path) -> None:
    message = _broken(
        tmp_path,
        'names = { en = "Competent", zh_Hans = "称职", zh_Hant = "稱職" }\nmin_score = 70',
        'names = { en = "Competent", zh_Hans = "称职", zh_Hant = "稱職" }\nmin_score = 95',
    )
    assert "annual.grades[1].min_score: must be lower than grades[0].min_score (90)" in message


def test_a_quarterly_year_has_four_periods_at_most(tmp_path: Path) -> None:
    text = QUARTERLY_POLICY_PATH.read_text(encoding="utf-8")
    message = _broken(tmp_path, "min_periods = 2", "min_periods = 5", text)
    assert "annual.min_periods: must be at most 4, as a year has 4 quarters" in message


def test_the_annual_section_is_optional(tmp_path: Path) -> None:
    text = DEFAULT_TEXT[: DEFAULT_TEXT.index("\n[annual]")] + "\n"
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    assert load_policy(path).annual is None

"""The assessment policy file: presets, every validation rule, error messages, helpers."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from assessment.scoring import raters_for
from config.policy import (
    DEFAULT_POLICY_PATH,
    QUARTERLY_POLICY_PATH,
    RATERS,
    LocalizedText,
    Policy,
    PolicyError,
    TopGradeQuota,
    load_policy,
)
from config.policy_errors import format_key_path
from config.settings import SUPPORTED_LANGUAGES

MINIMAL_PATH = Path(__file__).parent / "policy_cases" / "minimal.toml"
MINIMAL = MINIMAL_PATH.read_text(encoding="utf-8")
SERVICE_INDICATORS = MINIMAL[
    MINIMAL.index("# service indicators") : MINIMAL.index("# end of service indicators")
]
LOWER_GRADES = MINIMAL[MINIMAL.index('[[grades]]\nid = "mid"') : MINIMAL.index("[quota]")]

Edit = tuple[str, str]


def _write(directory: Path, text: str) -> Path:
    path = directory / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _variant(*edits: Edit) -> str:
    """The minimal policy with each ``old`` text (which must occur once) replaced by ``new``."""
    text = MINIMAL
    for old, new in edits:
        assert text.count(old) == 1, f"{old!r} must occur exactly once in the minimal policy"
        text = text.replace(old, new)
    return text


def _load_variant(tmp_path: Path, *edits: Edit) -> Policy:
    return load_policy(_write(tmp_path, _variant(*edits)))


def _problem(tmp_path: Path, *edits: Edit) -> tuple[Path, PolicyError]:
    path = _write(tmp_path, _variant(*edits))
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    return path, caught.value


@pytest.fixture
def minimal() -> Policy:
    return load_policy(MINIMAL_PATH)


@pytest.fixture(scope="module")
def default() -> Policy:
    return load_policy()


@pytest.fixture(scope="module")
def quarterly() -> Policy:
    return load_policy(QUARTERLY_POLICY_PATH)


# --- the shipped presets -------------------------------------------------------------------


def test_presets_ship_inside_the_config_package() -> None:
    config_dir = Path(__file__).parents[2] / "config"
    assert (config_dir / "policies" / "default.toml") == DEFAULT_POLICY_PATH
    assert (config_dir / "policies" / "quarterly.toml") == QUARTERLY_POLICY_PATH


def test_no_path_loads_the_bundled_default(default: Policy) -> None:
    assert load_policy(None) == default == load_policy(DEFAULT_POLICY_PATH)


def test_default_preset_is_monthly_with_five_grades(default: Policy) -> None:
    assert default.assessment.period == "month"
    assert [g.id for g in default.grades] == [
        "excellent",
        "good",
        "competent",
        "basically_competent",
        "incompetent",
    ]
    assert [g.names.en for g in default.grades] == [
        "Excellent",
        "Good",
        "Competent",
        "Basically competent",
        "Incompetent",
    ]
    assert [g.names.zh_hans for g in default.grades] == [
        "优秀",
        "良好",
        "合格",
        "基本合格",
        "不合格",
    ]
    assert [g.names.zh_hant for g in default.grades] == [
        "優秀",
        "良好",
        "合格",
        "基本合格",
        "不合格",
    ]
    assert default.quota.top_grade_max_share == Decimal("0.2")
    assert default.quota.with_approval_max_share == Decimal("0.25")
    assert default.quota.scope == "department"


def test_quarterly_preset_has_four_routine_grades_and_a_40_percent_cap(quarterly: Policy) -> None:
    assert quarterly.assessment.period == "quarter"
    assert [g.names.zh_hans for g in quarterly.grades] == ["好", "较好", "一般", "较差"]
    assert [g.names.zh_hant for g in quarterly.grades] == ["好", "較好", "一般", "較差"]
    assert [g.names.en for g in quarterly.grades] == ["Good", "Fairly good", "Average", "Poor"]
    assert quarterly.quota.top_grade_max_share == Decimal("0.4")
    assert quarterly.quota.with_approval_max_share is None


@pytest.mark.parametrize(
    "path", [DEFAULT_POLICY_PATH, QUARTERLY_POLICY_PATH], ids=["default", "q"]
)
def test_presets_follow_the_prc_defaults(path: Path) -> None:
    policy = load_policy(path)
    appeals = policy.appeals
    assert (appeals.review_request_days, appeals.review_decision_days) == (30, 30)
    assert (appeals.appeal_request_days, appeals.appeal_direct_days) == (15, 30)
    assert (appeals.appeal_decision_days, appeals.appeal_extension_days) == (60, 30)
    assert policy.bonus.currency == "CNY"
    assert policy.calendar.region == "CN"
    assert policy.reminders.daily_time == time(17, 30)
    assert policy.entries.backdate_workdays == 3
    assert policy.approvals.escalate_after_workdays == 3
    broadcast = policy.broadcast
    assert broadcast.messages_per_second == 30
    assert broadcast.per_chat_per_second == 1
    assert broadcast.per_group_per_minute == 20


@pytest.mark.parametrize(
    "path", [DEFAULT_POLICY_PATH, QUARTERLY_POLICY_PATH], ids=["default", "q"]
)
def test_presets_have_the_documented_indicators(path: Path) -> None:
    policy = load_policy(path)
    assert set(policy.post_types) == {"law_enforcement", "service", "management"}
    expected = {
        "law_enforcement": {"case_closure_rate", "enforcement_compliance", "complaint_rate"},
        "service": {"on_time_completion", "citizen_satisfaction", "service_innovations"},
        "management": {
            "policy_execution_deviation",
            "interdepartment_coordination",
            "risk_control",
        },
    }
    for post_type, ids in expected.items():
        indicators = policy.indicators_for(post_type)
        assert ids <= {indicator.id for indicator in indicators}
        # Staff log quantities, so each post type needs something countable.
        assert any(i.kind == "quantitative" and i.unit is not None for i in indicators)
        assert sum(i.weight for i in indicators) == 1
        assert sum(policy.raters[post_type].weight_of(rater) for rater in RATERS) == 1


# --- file-level problems -------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value) == f"policy file {path}: no such file"
    assert caught.value.path == path


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="is a directory"):
        load_policy(tmp_path)


def test_invalid_toml_reports_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, 'name = "x"\nlanguages = [\n[assessment\n')
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert message.startswith(f"policy file {path}: invalid TOML: ")
    assert "line 3, column" in message


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_bytes(b'name = "\xff"\n')
    with pytest.raises(PolicyError, match=r"is not UTF-8 text \(bad byte at offset 8\)"):
        load_policy(path)


def test_empty_file_names_the_missing_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, "")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value).startswith(f"policy file {path}: name: required key is missing; ")
    assert "; and 8 more" in str(caught.value)  # 18 sections, 10 shown
    assert len(caught.value.issues) == 18


def test_every_problem_is_reported_on_one_line(tmp_path: Path) -> None:
    path, error = _problem(
        tmp_path,
        ('period = "month"', 'period = "we\\nek"'),
        ("ttl_days = 7", "ttl_days = 0"),
    )
    assert "\n" not in str(error)
    assert [issue.key for issue in error.issues] == ["assessment.period", "invites.ttl_days"]
    assert str(error) == (
        f'policy file {path}: assessment.period: must be "month" or "quarter" '
        '(got string "we\\nek"); invites.ttl_days: must be at least 1 (got 0)'
    )


# --- every rule, broken once ---------------------------------------------------------------

RULES = [
    # Keys and types.
    pytest.param(
        [("languages = [", 'colour = "red"\nlanguages = [')],
        "colour",
        "unknown key (allowed here: name, languages, ",
        id="unknown-top-level-key",
    ),
    pytest.param(
        [("max_hours = 24", "max_hour = 24")],
        "entries.max_hour",
        'unknown key (did you mean "max_hours"?)',
        id="misspelt-key",
    ),
    pytest.param(
        [("max_hours = 24", "max_hour = 24")],
        "entries.max_hours",
        "required key is missing",
        id="misspelt-key-leaves-required-key-missing",
    ),
    pytest.param(
        [('scope = "department"\n', "")],
        "quota.scope",
        "required key is missing",
        id="missing-key",
    ),
    pytest.param(
        [("[invites]\nttl_days = 7\nmax_failed_attempts_per_hour = 5\n", "")],
        "invites",
        "required key is missing",
        id="missing-table",
    ),
    pytest.param(
        [('name = { en = "Minimal", zh_Hans = "最小", zh_Hant = "最小" }', 'name = "Minimal"')],
        "name",
        'must be a table (got string "Minimal")',
        id="string-for-table",
    ),
    pytest.param(
        [('name = { en = "Minimal"', "name = { en = 5")],
        "name.en",
        "must be a string (got integer 5)",
        id="integer-for-string",
    ),
    pytest.param(
        [("top_grade_max_share = 0.2", 'top_grade_max_share = "0.2"')],
        "quota.top_grade_max_share",
        'must be a number (got string "0.2")',
        id="string-for-number",
    ),
    pytest.param(
        [("base = 1000.00", "base = true")],
        "bonus.base",
        "must be a number (got boolean true)",
        id="boolean-for-number",
    ),
    pytest.param(
        [("base = 1000.00", "base = nan")],
        "bonus.base",
        "must be a finite number",
        id="nan",
    ),
    pytest.param(
        [("max = 2.0", "max = inf")],
        "difficulty.max",
        "must be a finite number",
        id="infinity",
    ),
    pytest.param(
        [("ttl_days = 7", "ttl_days = 7.0")],
        "invites.ttl_days",
        "must be a whole number (got float 7.0)",
        id="float-for-integer",
    ),
    pytest.param(
        [("ttl_days = 7", "ttl_days = true")],
        "invites.ttl_days",
        "must be a whole number (got boolean true)",
        id="boolean-for-integer",
    ),
    pytest.param(
        [("common = true", 'common = "true"')],
        "indicators.law_enforcement[1].common",
        'must be true or false (got string "true")',
        id="string-for-boolean",
    ),
    pytest.param(
        [("extra_holidays = []", "extra_holidays = 2026-10-01")],
        "calendar.extra_holidays",
        "must be an array (got date 2026-10-01)",
        id="date-for-array",
    ),
    # Languages and names.
    pytest.param(
        [('languages = ["en", "zh_Hans", "zh_Hant"]', 'languages = ["en", "zh_Hans"]')],
        "languages",
        'must list exactly "en", "zh_Hans", "zh_Hant", each once',
        id="language-missing",
    ),
    pytest.param(
        [
            (
                'languages = ["en", "zh_Hans", "zh_Hant"]',
                'languages = ["en", "zh_Hans", "zh_Hant", "en"]',
            )
        ],
        "languages",
        'must list exactly "en", "zh_Hans", "zh_Hant", each once',
        id="language-twice",
    ),
    pytest.param(
        [('languages = ["en", "zh_Hans", "zh_Hant"]', 'languages = ["en", "zh_Hans", "fr"]')],
        "languages",
        'must list exactly "en", "zh_Hans", "zh_Hant", each once',
        id="unsupported-language",
    ),
    pytest.param(
        [('{ en = "Top", zh_Hans = "上", zh_Hant = "上" }', '{ en = "Top", zh_Hans = "上" }')],
        "grades[0].names.zh_Hant",
        "required key is missing",
        id="name-missing-a-language",
    ),
    pytest.param(
        [
            (
                '{ en = "Top", zh_Hans = "上", zh_Hant = "上" }',
                '{ en = "Top", zh_Hans = "上", zh_Hant = "上", fr = "Haut" }',
            )
        ],
        "grades[0].names.fr",
        "unknown key (allowed here: en, zh_Hans, zh_Hant)",
        id="name-in-an-extra-language",
    ),
    pytest.param(
        [
            (
                '{ en = "Top", zh_Hans = "上", zh_Hant = "上" }',
                '{ en = "Top", zh_hans = "上", zh_Hant = "上" }',
            )
        ],
        "grades[0].names.zh_hans",
        'unknown key (did you mean "zh_Hans"?)',
        id="language-code-case",
    ),
    pytest.param(
        [('{ en = "Top", zh_Hans', '{ en = "", zh_Hans')],
        "grades[0].names.en",
        "must not be empty",
        id="empty-name",
    ),
    pytest.param(
        [('zh_Hant = "執法類"', 'zh_Hant = "   "')],
        "post_types.law_enforcement.names.zh_Hant",
        "must not be empty",
        id="blank-post-type-name",
    ),
    pytest.param(
        [
            (
                'unit = { en = "cases", zh_Hans = "件", zh_Hant = "件" }',
                'unit = { en = "cases", zh_Hant = "件" }',
            )
        ],
        "indicators.law_enforcement[0].unit.zh_Hans",
        "required key is missing",
        id="unit-missing-a-language",
    ),
    # Assessment cycle.
    pytest.param(
        [('period = "month"', 'period = "week"')],
        "assessment.period",
        'must be "month" or "quarter" (got string "week")',
        id="period",
    ),
    pytest.param(
        [('score_rounding = "0.01"', 'score_rounding = "0.05"')],
        "assessment.score_rounding",
        'must be a rounding step from "1" to "0.000001", such as "0.01" (got string "0.05")',
        id="score-rounding-not-a-power-of-ten",
    ),
    pytest.param(
        [('score_rounding_mode = "half_up"', 'score_rounding_mode = "bankers"')],
        "assessment.score_rounding_mode",
        'must be "half_up", "half_even", "down" or "up"',
        id="score-rounding-mode",
    ),
    # Grades.
    pytest.param(
        [
            ("min_score = 90\n", "min_score = 0\n"),
            (LOWER_GRADES, ""),
        ],
        "grades",
        "needs at least 2 grades, best first (found 1)",
        id="single-grade",
    ),
    pytest.param(
        [('id = "mid"', 'id = "top"')],
        "grades[1].id",
        'duplicate grade id "top" (also grades[0].id)',
        id="duplicate-grade-id",
    ),
    pytest.param(
        [('id = "top"', 'id = "Top grade"')],
        "grades[0].id",
        "must be an id of at most 32 lowercase letters, digits and underscores, starting with "
        'a letter (got "Top grade")',
        id="grade-id-not-a-slug",
    ),
    pytest.param(
        [("min_score = 60", "min_score = 95")],
        "grades[1].min_score",
        "must be lower than grades[0].min_score (90)",
        id="grades-not-descending",
    ),
    pytest.param(
        [("min_score = 60", "min_score = 90")],
        "grades[1].min_score",
        "must be lower than grades[0].min_score (90)",
        id="grades-equal-threshold",
    ),
    pytest.param(
        [("min_score = 0\n", "min_score = 10\n")],
        "grades[2].min_score",
        "must be 0 for the last grade, so that every score gets a grade (got 10)",
        id="last-grade-above-zero",
    ),
    pytest.param(
        [("min_score = 90", "min_score = 100.5")],
        "grades[0].min_score",
        "must be at most 100 (got 100.5)",
        id="threshold-above-100",
    ),
    pytest.param(
        [("min_score = 0\n", "min_score = -1\n")],
        "grades[2].min_score",
        "must be at least 0 (got -1)",
        id="negative-threshold",
    ),
    pytest.param(
        [("coefficient = 0\n", "coefficient = -0.1\n")],
        "grades[2].coefficient",
        "must be at least 0 (got -0.1)",
        id="negative-coefficient",
    ),
    pytest.param(
        [("coefficient = 1.0", "coefficient = 1.3")],
        "grades[1].coefficient",
        "must not be higher than grades[0].coefficient (1.2); a worse grade cannot pay more",
        id="coefficient-rising",
    ),
    # Quota.
    pytest.param(
        [("top_grade_max_share = 0.2", "top_grade_max_share = 0")],
        "quota.top_grade_max_share",
        "must be greater than 0 (got 0)",
        id="zero-share",
    ),
    pytest.param(
        [("top_grade_max_share = 0.2", "top_grade_max_share = 1.5")],
        "quota.top_grade_max_share",
        "must be at most 1 (got 1.5)",
        id="share-above-1",
    ),
    pytest.param(
        [('scope = "department"', 'scope = "team"')],
        "quota.scope",
        'must be "department" or "organisation" (got string "team")',
        id="quota-scope",
    ),
    pytest.param(
        [("with_approval_max_share = 0.25", "with_approval_max_share = 0.1")],
        "quota.with_approval_max_share",
        "must be at least top_grade_max_share (0.2), as approval can only widen the quota",
        id="approval-share-below-share",
    ),
    pytest.param(
        [("with_approval_max_share = 0.25", "with_approval_max_share = 1.01")],
        "quota.with_approval_max_share",
        "must be at most 1",
        id="approval-share-above-1",
    ),
    pytest.param(
        [('count_rounding = "down"', 'count_rounding = "nearest"')],
        "quota.count_rounding",
        'must be "down", "half_up" or "up"',
        id="quota-count-rounding",
    ),
    # Post types and raters.
    pytest.param(
        [("law_enforcement.names =", "#"), ("service.names =", "#")],
        "post_types",
        "needs at least one post type",
        id="no-post-types",
    ),
    pytest.param(
        [("law_enforcement.names =", "Law.names =")],
        "post_types.Law",
        "must be an id of at most 32 lowercase letters",
        id="post-type-id-not-a-slug",
    ),
    pytest.param(
        [("service = { supervisor = 0.4", "# service = { supervisor = 0.4")],
        "raters.service",
        "missing; every post type needs its raters",
        id="post-type-without-raters",
    ),
    pytest.param(
        [("service = { supervisor = 0.4", "police = { supervisor = 0.4")],
        "raters.police",
        "unknown post type (post_types has: law_enforcement, service)",
        id="raters-for-unknown-post-type",
    ),
    pytest.param(
        [("supervisor = 0.5", "supervisor = 0.4")],
        "raters.law_enforcement",
        "weights must sum to exactly 1 (they sum to 0.9)",
        id="rater-weights-below-1",
    ),
    pytest.param(
        [("peer = 0.1,", "peer = 0.3,")],
        "raters.service",
        "weights must sum to exactly 1 (they sum to 1.2)",
        id="rater-weights-above-1",
    ),
    pytest.param(
        [("peer = 0.1,", "peer = -0.1,")],
        "raters.service.peer",
        "must be at least 0",
        id="negative-rater-weight",
    ),
    pytest.param(
        [("self = 0.1, ", "")],
        "raters.service.self",
        "required key is missing",
        id="rater-missing",
    ),
    pytest.param(
        [("service_recipient = 0.4 }", "service_recipient = 0.4, third_party = 0.1 }")],
        "raters.service",
        "weights must sum to exactly 1 (they sum to 1.1)",
        id="third-party-weight-counts-in-the-sum",
    ),
    pytest.param(
        [("service_recipient = 0.4 }", "service_recipient = 0.4, third_party = -0.1 }")],
        "raters.service.third_party",
        "must be at least 0",
        id="negative-third-party-weight",
    ),
    pytest.param(
        [("self = 0.1, ", "citizen = 0.1, ")],
        "raters.service.citizen",
        "unknown key (allowed here: supervisor, self, peer, service_recipient, third_party)",
        id="unknown-rater",
    ),
    # Indicators.
    pytest.param(
        [(SERVICE_INDICATORS, "")],
        "indicators.service",
        "missing; every post type needs its indicators",
        id="post-type-without-indicators",
    ),
    pytest.param(
        [(SERVICE_INDICATORS, "[indicators]\nservice = []\n")],
        "indicators.service",
        "needs at least one indicator",
        id="empty-indicator-list",
    ),
    pytest.param(
        [
            (
                SERVICE_INDICATORS,
                SERVICE_INDICATORS.replace("[[indicators.service]]", "[[indicators.police]]"),
            )
        ],
        "indicators.police",
        "unknown post type (post_types has: law_enforcement, service)",
        id="indicators-for-unknown-post-type",
    ),
    pytest.param(
        [("weight = 0.6", "weight = 0.5")],
        "indicators.service",
        "weights must sum to exactly 1 (they sum to 0.9)",
        id="indicator-weights-below-1",
    ),
    pytest.param(
        [("weight = 0.4", "weight = 0")],
        "indicators.service[1].weight",
        "must be greater than 0 (got 0)",
        id="zero-indicator-weight",
    ),
    pytest.param(
        [("weight = 0.7", "weight = 1.7")],
        "indicators.law_enforcement[0].weight",
        "must be at most 1",
        id="indicator-weight-above-1",
    ),
    pytest.param(
        [('id = "permits_processed"', 'id = "cases_handled"')],
        "indicators.service[0].id",
        'duplicate indicator id "cases_handled" (also indicators.law_enforcement[0].id)',
        id="indicator-id-reused-across-post-types",
    ),
    pytest.param(
        [('id = "satisfaction"', 'id = "permits_processed"')],
        "indicators.service[1].id",
        'duplicate indicator id "permits_processed" (also indicators.service[0].id)',
        id="indicator-id-reused-within-post-type",
    ),
    pytest.param(
        [('id = "compliance"', 'id = "2nd"')],
        "indicators.law_enforcement[1].id",
        "must be an id",
        id="indicator-id-not-a-slug",
    ),
    pytest.param(
        [
            (
                'id = "compliance"',
                'id = "compliance"\nunit = { en = "acts", zh_Hans = "次", zh_Hant = "次" }',
            )
        ],
        "indicators.law_enforcement[1].unit",
        'a qualitative indicator has no unit (or set kind = "quantitative")',
        id="unit-on-qualitative-indicator",
    ),
    pytest.param(
        [('unit = { en = "cases", zh_Hans = "件", zh_Hant = "件" }\n', "")],
        "indicators.law_enforcement[0].unit",
        "a quantitative indicator needs a unit, e.g. cases / 件",
        id="quantitative-indicator-without-unit",
    ),
    pytest.param(
        [('kind = "qualitative"\npoints = 100', 'kind = "numeric"\npoints = 100')],
        "indicators.law_enforcement[1].kind",
        'must be "quantitative" or "qualitative" (got string "numeric")',
        id="indicator-kind",
    ),
    pytest.param(
        [("points = 0.5", "points = 0")],
        "indicators.service[0].points",
        "must be greater than 0",
        id="zero-points",
    ),
    pytest.param(
        [("points = 50", "points = -5")],
        "indicators.service[1].points",
        "must be greater than 0",
        id="negative-points",
    ),
    pytest.param(
        [("common = true\n", "")],
        "indicators.law_enforcement[1].common",
        "required key is missing",
        id="indicator-without-common",
    ),
    # Difficulty.
    pytest.param(
        [("min = 0.5", "min = 0")],
        "difficulty.min",
        "must be greater than 0",
        id="difficulty-min-zero",
    ),
    pytest.param(
        [("min = 0.5", "min = 1.1")],
        "difficulty.min",
        "must be at most 1, the ordinary post (got 1.1)",
        id="difficulty-min-above-1",
    ),
    pytest.param(
        [("max = 2.0", "max = 0.9")],
        "difficulty.max",
        "must be at least 1, the ordinary post (got 0.9)",
        id="difficulty-max-below-1",
    ),
    # Reminders.
    pytest.param(
        [('daily_time = "17:30"', 'daily_time = "24:00"')],
        "reminders.daily_time",
        'must be a time of day "HH:MM", e.g. "17:30" (got string "24:00")',
        id="hour-24",
    ),
    pytest.param(
        [('daily_time = "17:30"', 'daily_time = "5pm"')],
        "reminders.daily_time",
        'must be a time of day "HH:MM"',
        id="time-in-words",
    ),
    pytest.param(
        [('team_summary_time = "18:30"', 'team_summary_time = "18:3"')],
        "reminders.team_summary_time",
        'must be a time of day "HH:MM"',
        id="time-missing-digit",
    ),
    pytest.param(
        [('team_summary_time = "18:30"', 'team_summary_time = "18:60"')],
        "reminders.team_summary_time",
        'must be a time of day "HH:MM"',
        id="minute-60",
    ),
    pytest.param(
        [('team_summary_time = "18:30"', "team_summary_time = 1830")],
        "reminders.team_summary_time",
        'must be a time of day "HH:MM", e.g. "17:30" (got integer 1830)',
        id="time-as-number",
    ),
    # Entries.
    pytest.param(
        [("backdate_workdays = 3", "backdate_workdays = -1")],
        "entries.backdate_workdays",
        "must be at least 0",
        id="negative-backdate",
    ),
    pytest.param(
        [("max_text_length = 2000", "max_text_length = 5000")],
        "entries.max_text_length",
        "must be at most 4096",
        id="text-longer-than-telegram-allows",
    ),
    pytest.param(
        [("max_text_length = 2000", "max_text_length = 0")],
        "entries.max_text_length",
        "must be at least 1",
        id="zero-text-length",
    ),
    pytest.param(
        [("max_attachments = 5", "max_attachments = -1")],
        "entries.max_attachments",
        "must be at least 0",
        id="negative-attachments",
    ),
    pytest.param(
        [("max_attachment_mb = 20", "max_attachment_mb = 50")],
        "entries.max_attachment_mb",
        "must be at most 20",
        id="attachment-larger-than-bot-api-allows",
    ),
    pytest.param(
        [("max_attachment_mb = 20", "max_attachment_mb = 0")],
        "entries.max_attachment_mb",
        "must be greater than 0",
        id="zero-attachment-size",
    ),
    pytest.param(
        [("max_hours = 24", "max_hours = 25")],
        "entries.max_hours",
        "must be at most 24",
        id="more-hours-than-a-day",
    ),
    pytest.param(
        [("min_hours = 0.5", "min_hours = 0")],
        "entries.min_hours",
        "must be greater than 0",
        id="zero-min-hours",
    ),
    pytest.param(
        [("max_hours = 24", "max_hours = 8"), ("min_hours = 0.5", "min_hours = 9")],
        "entries.min_hours",
        "must not exceed max_hours (8)",
        id="min-hours-above-max",
    ),
    pytest.param(
        [("max_per_minute = 10", "max_per_minute = 0")],
        "entries.max_per_minute",
        "must be at least 1",
        id="no-entries-a-minute",
    ),
    pytest.param(
        [("max_per_day = 100", "max_per_day = 1001")],
        "entries.max_per_day",
        "must be at most 1000",
        id="more-entries-a-day-than-counted",
    ),
    pytest.param(
        [
            ("max_per_minute = 10", "max_per_minute = 20"),
            ("max_per_day = 100", "max_per_day = 15"),
        ],
        "entries.max_per_minute",
        "must not exceed max_per_day (15)",
        id="minute-limit-above-day-limit",
    ),
    pytest.param(
        [("max_per_day = 100", 'max_per_day = "100"')],
        "entries.max_per_day",
        'must be a whole number (got string "100")',
        id="day-limit-as-text",
    ),
    pytest.param(
        [("max_per_day = 100\n", "")],
        "entries.max_per_day",
        "required key is missing",
        id="day-limit-missing",
    ),
    # Monthly check.
    pytest.param(
        [("self_review_open_day = 25", "self_review_open_day = 0")],
        "monthly_check.self_review_open_day",
        "must be a day from 1 to 28, as later days do not exist in every month (got 0)",
        id="day-zero",
    ),
    pytest.param(
        [("self_review_open_day = 25", "self_review_open_day = 31")],
        "monthly_check.self_review_open_day",
        "must be a day from 1 to 28",
        id="day-31",
    ),
    pytest.param(
        [("supervisor_review_due_day = 7", "supervisor_review_due_day = 29")],
        "monthly_check.supervisor_review_due_day",
        "must be a day from 1 to 28",
        id="day-29",
    ),
    pytest.param(
        [("self_review_due_day = 3", "self_review_due_day = 3.5")],
        "monthly_check.self_review_due_day",
        "must be a whole number (got float 3.5)",
        id="fractional-day",
    ),
    pytest.param(
        [("supervisor_review_due_day = 7", "supervisor_review_due_day = 3")],
        "monthly_check.supervisor_review_due_day",
        "must be later than self_review_due_day (3)",
        id="supervisor-due-with-self-review",
    ),
    pytest.param(
        [("reminder_days_before_due = 2", "reminder_days_before_due = -1")],
        "monthly_check.reminder_days_before_due",
        "must be at least 0",
        id="negative-reminder-days",
    ),
    pytest.param(
        [("escalate_after_days = 2", "escalate_after_days = 0")],
        "monthly_check.escalate_after_days",
        "must be at least 1",
        id="zero-escalation-days",
    ),
    # Approvals.
    pytest.param(
        [("escalate_after_workdays = 3", "escalate_after_workdays = 0")],
        "approvals.escalate_after_workdays",
        "must be at least 1",
        id="zero-approval-escalation",
    ),
    pytest.param(
        [
            (
                "escalate_after_workdays = 3",
                "escalate_after_workdays = 3\nauto_approve_after_workdays = 3",
            )
        ],
        "approvals.auto_approve_after_workdays",
        "must be greater than escalate_after_workdays (3)",
        id="auto-approve-before-escalation",
    ),
    # Bonus.
    pytest.param(
        [("base = 1000.00", "base = 0")],
        "bonus.base",
        "must be greater than 0",
        id="zero-base",
    ),
    pytest.param(
        [('currency = "CNY"', 'currency = "cny"')],
        "bonus.currency",
        'must be an ISO 4217 currency code such as "CNY" (got "cny")',
        id="lowercase-currency",
    ),
    pytest.param(
        [('currency = "CNY"', 'currency = "XYZ"')],
        "bonus.currency",
        "must be an ISO 4217 currency code",
        id="unknown-currency",
    ),
    pytest.param(
        [('currency = "CNY"', 'currency = "RMB¥"')],
        "bonus.currency",
        "must be an ISO 4217 currency code",
        id="currency-symbol",
    ),
    pytest.param(
        [('\nrounding = "0.01"', '\nrounding = "cents"')],
        "bonus.rounding",
        'must be a rounding step from "1" to "0.000001", such as "0.01" (got string "cents")',
        id="rounding-in-words",
    ),
    pytest.param(
        [('\nrounding = "0.01"', "\nrounding = 0")],
        "bonus.rounding",
        "must be a rounding step",
        id="zero-rounding",
    ),
    pytest.param(
        [('\nrounding = "0.01"', '\nrounding = "10"')],
        "bonus.rounding",
        "must be a rounding step",
        id="rounding-coarser-than-units",
    ),
    pytest.param(
        [('\nrounding = "0.01"', '\nrounding = "0.0000001"')],
        "bonus.rounding",
        "must be a rounding step",
        id="rounding-too-fine",
    ),
    pytest.param(
        [('rounding_mode = "half_up"\n\n[broadcast]', 'rounding_mode = "ceil"\n\n[broadcast]')],
        "bonus.rounding_mode",
        'must be "half_up", "half_even", "down" or "up"',
        id="money-rounding-mode",
    ),
    pytest.param(
        [
            (
                'rounding_mode = "half_up"\n\n[broadcast]',
                'rounding_mode = "half_up"\n\n[bonus.allowances.hardship]\n'
                'names = { en = "H", zh_Hans = "H", zh_Hant = "H" }\namount = -1\n\n[broadcast]',
            )
        ],
        "bonus.allowances.hardship.amount",
        "must be greater than 0 (got -1)",
        id="negative-allowance",
    ),
    pytest.param(
        [
            (
                'rounding_mode = "half_up"\n\n[broadcast]',
                'rounding_mode = "half_up"\n\n[bonus.allowances.urgent]\n'
                'names = { en = "U", zh_Hans = "U", zh_Hant = "U" }\namount = 20.005\n\n'
                "[broadcast]",
            )
        ],
        "bonus.allowances.urgent.amount",
        "must be a whole multiple of rounding (0.01) (got 20.005)",
        id="allowance-off-the-step",
    ),
    pytest.param(
        [
            (
                'rounding_mode = "half_up"\n\n[broadcast]',
                'rounding_mode = "half_up"\n\n[bonus.allowances.Bad]\n'
                'names = { en = "B", zh_Hans = "B", zh_Hant = "B" }\namount = 1\n\n[broadcast]',
            )
        ],
        "bonus.allowances.Bad",
        "must be an id",
        id="allowance-id",
    ),
    pytest.param(
        [
            (
                'rounding_mode = "half_up"\n\n[broadcast]',
                'rounding_mode = "half_up"\nmode = "share"\n\n[broadcast]',
            )
        ],
        "bonus.mode",
        'must be "formula" or "pool"',
        id="bonus-mode",
    ),
    # Broadcast.
    pytest.param(
        [("messages_per_second = 30", "messages_per_second = 0")],
        "broadcast.messages_per_second",
        "must be greater than 0",
        id="zero-message-rate",
    ),
    pytest.param(
        [("per_group_per_minute = 20", "per_group_per_minute = -20")],
        "broadcast.per_group_per_minute",
        "must be greater than 0",
        id="negative-group-rate",
    ),
    pytest.param(
        [("per_chat_per_second = 1", "per_chat_per_second = 40")],
        "broadcast.per_chat_per_second",
        "must not exceed messages_per_second (30)",
        id="chat-rate-above-overall-rate",
    ),
    # Calendar.
    pytest.param(
        [('region = "CN"', 'region = "cn"')],
        "calendar.region",
        'must be an ISO 3166 country code such as "CN" (got "cn")',
        id="lowercase-region",
    ),
    pytest.param(
        [('region = "CN"', 'region = "CHN"')],
        "calendar.region",
        "must be an ISO 3166 country code",
        id="three-letter-region",
    ),
    pytest.param(
        [('region = "CN"', 'region = "ZZ"')],
        "calendar.region",
        "must be an ISO 3166 country code",
        id="unknown-region",
    ),
    pytest.param(
        [
            ("extra_holidays = []", "extra_holidays = [2026-10-09]"),
            ("extra_workdays = []", "extra_workdays = [2026-10-10, 2026-10-09]"),
        ],
        "calendar.extra_workdays[1]",
        "2026-10-09 is also in extra_holidays; choose one",
        id="date-both-holiday-and-workday",
    ),
    pytest.param(
        [("extra_holidays = []", "extra_holidays = [2026-10-09, 2026-10-09]")],
        "calendar.extra_holidays[1]",
        "2026-10-09 is listed twice",
        id="date-listed-twice",
    ),
    pytest.param(
        [("extra_holidays = []", 'extra_holidays = ["2026-10-09"]')],
        "calendar.extra_holidays[0]",
        'must be a date written without quotes, e.g. 2026-10-01 (got string "2026-10-09")',
        id="quoted-date",
    ),
    pytest.param(
        [("extra_workdays = []", "extra_workdays = [2026-10-10T09:00:00]")],
        "calendar.extra_workdays[0]",
        "must be a date written without quotes, e.g. 2026-10-01 "
        "(got date-time 2026-10-10T09:00:00)",
        id="date-time-for-date",
    ),
    # Invites.
    pytest.param(
        [("ttl_days = 7", "ttl_days = 0")],
        "invites.ttl_days",
        "must be at least 1",
        id="zero-invite-ttl",
    ),
    pytest.param(
        [("max_failed_attempts_per_hour = 5", "max_failed_attempts_per_hour = 0")],
        "invites.max_failed_attempts_per_hour",
        "must be at least 1",
        id="zero-invite-attempts",
    ),
]

APPEAL_WINDOWS = [
    "review_request_days = 30",
    "review_decision_days = 30",
    "appeal_request_days = 15",
    "appeal_direct_days = 30",
    "appeal_decision_days = 60",
    "appeal_extension_days = 30",
]
RULES += [
    pytest.param(
        [(line, line.split(" = ")[0] + " = 0")],
        "appeals." + line.split(" = ")[0],
        "must be at least 1 (got 0)",
        id="zero-" + line.split(" = ")[0].replace("_", "-"),
    )
    for line in APPEAL_WINDOWS
]


@pytest.mark.parametrize(("edits", "key", "reason"), RULES)
def test_broken_rule_names_file_key_and_reason(
    tmp_path: Path, edits: list[Edit], key: str, reason: str
) -> None:
    path, error = _problem(tmp_path, *edits)
    message = str(error)
    assert message.startswith(f"policy file {path}: ")
    assert f"{key}: {reason}" in message
    assert "\n" not in message
    assert key in [issue.key for issue in error.issues]


# --- what loads, and how -------------------------------------------------------------------


def test_minimal_fixture_is_valid(minimal: Policy) -> None:
    assert minimal.name.en == "Minimal"


def _values(node: object) -> Iterator[object]:
    """Every value inside a policy, walking models, mappings and tuples."""
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _values(getattr(node, name))
    elif isinstance(node, Mapping):
        for item in node.values():
            yield from _values(item)
    elif isinstance(node, tuple):
        for item in node:
            yield from _values(item)
    else:
        yield node


@pytest.mark.parametrize("path", [MINIMAL_PATH, DEFAULT_POLICY_PATH, QUARTERLY_POLICY_PATH])
def test_no_number_is_a_float(path: Path) -> None:
    values = list(_values(load_policy(path)))
    assert any(isinstance(value, Decimal) for value in values)
    assert not any(isinstance(value, float) for value in values)


def test_decimals_stay_exact(tmp_path: Path) -> None:
    policy = _load_variant(tmp_path, ("coefficient = 1.2", "coefficient = 1.15"))
    coefficient = policy.grades[0].coefficient
    assert isinstance(coefficient, Decimal)
    assert coefficient == Decimal("1.15")
    assert str(coefficient) == "1.15"
    # With floats these three would sum to 0.9999999999999999 and fail the rule.
    assert policy.indicator("cases_handled").weight + policy.indicator("compliance").weight == 1


def test_integers_become_decimals_where_numbers_are_expected(minimal: Policy) -> None:
    assert minimal.grades[0].min_score == Decimal(90)
    assert isinstance(minimal.grades[0].min_score, Decimal)
    assert isinstance(minimal.entries.max_attachment_mb, Decimal)


def test_optional_keys_default_to_none_or_empty(minimal: Policy) -> None:
    assert minimal.approvals.auto_approve_after_workdays is None
    assert minimal.bonus.allowances == {}
    assert minimal.bonus.mode == "formula"
    assert minimal.indicator("compliance").unit is None
    assert minimal.calendar.extra_holidays == ()


def test_optional_keys_when_present(tmp_path: Path) -> None:
    policy = _load_variant(
        tmp_path,
        (
            "escalate_after_workdays = 3",
            "escalate_after_workdays = 3\nauto_approve_after_workdays = 10",
        ),
        (
            'rounding_mode = "half_up"\n\n[broadcast]',
            'rounding_mode = "half_up"\nmode = "pool"\n\n[bonus.allowances.hardship]\n'
            'names = { en = "Hardship post", zh_Hans = "艰苦", zh_Hant = "艱苦" }\n'
            "amount = 300.50\n\n[broadcast]",
        ),
        ("extra_holidays = []", "extra_holidays = [2026-10-09]"),
        ("extra_workdays = []", "extra_workdays = [2026-10-10]"),
        ("with_approval_max_share = 0.25\n", ""),
    )
    assert policy.approvals.auto_approve_after_workdays == 10
    assert policy.bonus.mode == "pool"
    assert policy.bonus.allowances["hardship"].amount == Decimal("300.50")
    assert policy.bonus.allowances["hardship"].names.get("zh_Hant") == "艱苦"
    assert policy.calendar.extra_holidays == (date(2026, 10, 9),)
    assert policy.calendar.extra_workdays == (date(2026, 10, 10),)
    assert policy.quota.with_approval_max_share is None


def test_times_may_also_be_bare_toml_times(tmp_path: Path) -> None:
    policy = _load_variant(tmp_path, ('daily_time = "17:30"', "daily_time = 17:30:00"))
    assert policy.reminders.daily_time == time(17, 30)


@pytest.mark.parametrize(
    ("written", "step"), [('"0.01"', "0.01"), ("0.01", "0.01"), ('"0.010"', "0.01"), ("1", "1")]
)
def test_rounding_steps_are_normalised(tmp_path: Path, written: str, step: str) -> None:
    policy = _load_variant(tmp_path, ('\nrounding = "0.01"', f"\nrounding = {written}"))
    assert policy.bonus.rounding == Decimal(step)
    assert policy.bonus.rounding.as_tuple().exponent == Decimal(step).as_tuple().exponent


def test_policy_is_immutable(minimal: Policy) -> None:
    with pytest.raises(ValidationError):
        minimal.grades[0].min_score = Decimal(1)  # type: ignore[misc]
    with pytest.raises(TypeError):
        minimal.post_types["other"] = minimal.post_types["service"]  # type: ignore[index]


def test_policy_round_trips_through_model_dump(minimal: Policy) -> None:
    assert Policy.model_validate(minimal.model_dump(by_alias=True)) == minimal


def test_localized_text_covers_exactly_the_bot_languages() -> None:
    aliases = {field.alias or name for name, field in LocalizedText.model_fields.items()}
    assert aliases == set(SUPPORTED_LANGUAGES)


def test_key_paths_are_formatted_like_toml() -> None:
    assert (
        format_key_path(("indicators", "service", 0, "weight")) == "indicators.service[0].weight"
    )
    assert format_key_path(("post_types", "bad key", "[key]")) == 'post_types."bad key"'
    assert format_key_path(()) == ""


# --- helpers the domain uses ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "grade_id"),
    [
        ("100", "top"),
        ("90", "top"),
        ("89.99", "mid"),
        ("60", "mid"),
        ("59.999", "low"),
        ("0", "low"),
    ],
)
def test_grade_for_boundaries(minimal: Policy, score: str, grade_id: str) -> None:
    assert minimal.grade_for(Decimal(score)).id == grade_id


@pytest.mark.parametrize(
    ("score", "grade_id"),
    [
        ("90", "excellent"),
        ("89.99", "good"),
        ("80", "good"),
        ("79.99", "competent"),
        ("70", "competent"),
        ("69.99", "basically_competent"),
        ("60", "basically_competent"),
        ("59.99", "incompetent"),
    ],
)
def test_default_grade_boundaries(default: Policy, score: str, grade_id: str) -> None:
    assert default.grade_for(Decimal(score)).id == grade_id


@pytest.mark.parametrize("score", ["-0.01", "100.01", "NaN", "Infinity"])
def test_grade_for_rejects_scores_outside_0_to_100(minimal: Policy, score: str) -> None:
    with pytest.raises(ValueError, match="a score must be from 0 to 100"):
        minimal.grade_for(Decimal(score))


def test_grade_lookups(minimal: Policy) -> None:
    assert minimal.top_grade.id == "top"
    assert minimal.grade("mid").names.en == "Middle"
    assert minimal.grade_rank("low") == 2
    with pytest.raises(KeyError):
        minimal.grade("absent")


def test_indicator_lookups(minimal: Policy) -> None:
    assert [i.id for i in minimal.indicators_for("service")] == [
        "permits_processed",
        "satisfaction",
    ]
    permits = minimal.indicator("permits_processed")
    assert permits.kind == "quantitative"
    assert permits.unit is not None
    assert permits.unit.get("zh_Hans") == "件"
    assert permits.points == Decimal("0.5")
    assert not permits.common
    with pytest.raises(KeyError):
        minimal.indicators_for("management")
    with pytest.raises(KeyError):
        minimal.indicator("absent")


def test_localized_text_by_language_code(minimal: Policy) -> None:
    names = minimal.post_types["law_enforcement"].names
    assert [names.get(language) for language in SUPPORTED_LANGUAGES] == [
        "Law enforcement",
        "执法类",
        "執法類",
    ]
    with pytest.raises(KeyError):
        names.get("fr")


def test_rater_weights_by_rater_name(minimal: Policy) -> None:
    weights = minimal.raters["service"]
    assert [weights.weight_of(rater) for rater in RATERS] == [
        Decimal("0.4"),
        Decimal("0.1"),
        Decimal("0.1"),
        Decimal("0.4"),
        Decimal(0),
    ]


def test_a_policy_written_before_third_parties_gives_them_nothing(minimal: Policy) -> None:
    # The minimal fixture has no third_party key anywhere, as policies before it had none.
    assert "third_party" not in MINIMAL_PATH.read_text(encoding="utf-8")
    assert all(weights.third_party == 0 for weights in minimal.raters.values())
    assert all(
        "third_party" not in raters_for(minimal, post_type, indicator)
        for post_type in minimal.post_types
        for indicator in minimal.indicators_for(post_type)
    )


def test_a_third_party_weight_takes_its_share(tmp_path: Path) -> None:
    policy = _load_variant(
        tmp_path,
        ("service_recipient = 0.4 }", "service_recipient = 0.3, third_party = 0.1 }"),
    )
    assert policy.raters["service"].weight_of("third_party") == Decimal("0.1")
    assert RATERS[-1] == "third_party"


@pytest.mark.parametrize("path", [DEFAULT_POLICY_PATH, QUARTERLY_POLICY_PATH])
def test_presets_give_third_parties_law_enforcement_compliance_only(path: Path) -> None:
    policy = load_policy(path)
    weights = {post_type: policy.raters[post_type].third_party for post_type in policy.post_types}
    assert weights == {
        "law_enforcement": Decimal("0.1"),
        "service": Decimal(0),
        "management": Decimal(0),
    }
    rated = [
        indicator.id
        for post_type in policy.post_types
        for indicator in policy.indicators_for(post_type)
        if "third_party" in raters_for(policy, post_type, indicator)
    ]
    assert rated == ["enforcement_compliance"]


@pytest.mark.parametrize(
    ("rounding", "group_size", "with_approval", "expected"),
    [
        ("down", 9, False, 1),
        ("down", 10, False, 2),
        ("down", 4, False, 0),
        ("down", 8, True, 2),
        ("half_up", 9, False, 2),
        ("half_up", 7, False, 1),
        ("up", 1, False, 1),
        ("down", 0, False, 0),
    ],
)
def test_top_grade_head_count(
    rounding: str, group_size: int, with_approval: bool, expected: int
) -> None:
    quota = TopGradeQuota.model_validate(
        {
            "top_grade_max_share": Decimal("0.2"),
            "scope": "department",
            "with_approval_max_share": Decimal("0.25"),
            "count_rounding": rounding,
        }
    )
    assert quota.max_top_grade(group_size, with_approval=with_approval) == expected


def test_top_grade_head_count_without_an_approved_exception(quarterly: Policy) -> None:
    assert quarterly.quota.max_top_grade(10, with_approval=True) == 4
    with pytest.raises(ValueError, match="negative"):
        quarterly.quota.max_top_grade(-1)


def test_rounding_helpers(minimal: Policy) -> None:
    assert minimal.assessment.round_score(Decimal("89.995")) == Decimal("90.00")
    assert minimal.grade_for(minimal.assessment.round_score(Decimal("89.995"))).id == "top"
    assert minimal.bonus.round_money(Decimal("1234.565")) == Decimal("1234.57")
    assert str(minimal.bonus.round_money(Decimal(1200))) == "1200.00"


def test_difficulty_bounds(minimal: Policy) -> None:
    assert minimal.difficulty.allows(Decimal("1.15"))
    assert minimal.difficulty.allows(Decimal("0.5"))
    assert minimal.difficulty.allows(Decimal("2.0"))
    assert not minimal.difficulty.allows(Decimal("2.01"))
    assert not minimal.difficulty.allows(Decimal("0.49"))


# --- properties of the grade scale ---------------------------------------------------------

SCORES = st.decimals(min_value=0, max_value=100, places=3)
PRESETS = [load_policy(MINIMAL_PATH), load_policy(), load_policy(QUARTERLY_POLICY_PATH)]


def _grade_index(policy: Policy, score: Decimal) -> int:
    return policy.grade_rank(policy.grade_for(score).id)


@given(policy=st.sampled_from(PRESETS), score=SCORES)
def test_every_score_gets_exactly_one_grade(policy: Policy, score: Decimal) -> None:
    matching = [
        index
        for index, grade in enumerate(policy.grades)
        if grade.min_score <= score and (index == 0 or score < policy.grades[index - 1].min_score)
    ]
    assert matching == [_grade_index(policy, score)]


@given(policy=st.sampled_from(PRESETS), low=SCORES, high=SCORES)
def test_a_higher_score_never_earns_a_worse_grade(
    policy: Policy, low: Decimal, high: Decimal
) -> None:
    low, high = sorted((low, high))
    assert _grade_index(policy, high) <= _grade_index(policy, low)


@st.composite
def grade_scales(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Any valid scale: falling thresholds ending at 0, non-increasing coefficients."""
    thresholds = draw(
        st.lists(
            st.decimals(min_value="0.01", max_value=100, places=2),
            min_size=1,
            max_size=6,
            unique=True,
        )
    )
    coefficients = sorted(
        draw(
            st.lists(
                st.decimals(min_value=0, max_value=3, places=2),
                min_size=len(thresholds) + 1,
                max_size=len(thresholds) + 1,
            )
        ),
        reverse=True,
    )
    mins = [*sorted(thresholds, reverse=True), Decimal(0)]
    return [
        {
            "id": f"grade_{index}",
            "names": {"en": f"G{index}", "zh_Hans": f"G{index}", "zh_Hant": f"G{index}"},
            "min_score": min_score,
            "coefficient": coefficient,
        }
        for index, (min_score, coefficient) in enumerate(zip(mins, coefficients, strict=True))
    ]


@given(scale=grade_scales(), low=SCORES, high=SCORES)
def test_any_valid_scale_grades_monotonically(
    scale: list[dict[str, Any]], low: Decimal, high: Decimal
) -> None:
    document = PRESETS[0].model_dump(by_alias=True) | {"grades": scale}
    policy = Policy.model_validate(document)
    low, high = sorted((low, high))
    assert _grade_index(policy, high) <= _grade_index(policy, low)
    assert policy.grade_for(Decimal(0)) == policy.grades[-1]
    assert policy.grade_for(Decimal(100)) == policy.grades[0]


def test_policy_error_carries_structured_issues(tmp_path: Path) -> None:
    _, error = _problem(tmp_path, ("min_score = 60", "min_score = 95"))
    assert [dataclasses.astuple(issue) for issue in error.issues] == [
        ("grades[1].min_score", "must be lower than grades[0].min_score (90)")
    ]

"""Citizens' ratings: the flag rules, the signed codes, the keyed hashes, the policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assessment.citizens import (
    MATTER,
    WINDOW,
    CitizenKeys,
    Flag,
    citizen_indicators,
    code_of,
    flags_for,
    payload,
    weighs_citizens,
)
from config.policy import DEFAULT_POLICY_PATH, CitizenRules, PolicyError, load_policy

ISSUED = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
RULES = CitizenRules(code_minutes=30, far_from_issue_minutes=15, burst_max=20, burst_minutes=60)
KEYS = CitizenKeys.of("k" * 32)


def _flags(**given: object) -> tuple[Flag, ...]:
    facts: dict[str, object] = {
        "kind": MATTER,
        "issued_at": ISSUED,
        "now": ISSUED + timedelta(minutes=2),
        "recent_for_person": 0,
        "rated_before": False,
        "staff_account": False,
    }
    facts.update(given)
    return flags_for(RULES, **facts)  # type: ignore[arg-type]


def test_an_ordinary_rating_has_no_flag() -> None:
    assert _flags() == ()


def test_a_burst_is_the_rating_beyond_the_rate() -> None:
    assert _flags(recent_for_person=19) == ()
    assert _flags(recent_for_person=20) == (Flag.BURST,)


def test_the_same_account_again_is_flagged() -> None:
    assert _flags(rated_before=True) == (Flag.REPEAT,)


def test_an_account_of_staff_is_flagged() -> None:
    assert _flags(staff_account=True) == (Flag.STAFF_ACCOUNT,)


def test_a_code_used_far_from_its_issue_is_flagged_but_not_a_window_code() -> None:
    on_the_minute = ISSUED + timedelta(minutes=15)
    assert _flags(now=on_the_minute) == ()
    assert _flags(now=on_the_minute + timedelta(seconds=1)) == (Flag.FAR_FROM_ISSUE,)
    # A printed window code hangs on the wall for months: its age says nothing.
    assert _flags(kind=WINDOW, now=ISSUED + timedelta(days=90)) == ()


def test_every_rule_broken_is_named() -> None:
    assert _flags(
        recent_for_person=50,
        rated_before=True,
        staff_account=True,
        now=ISSUED + timedelta(hours=1),
    ) == (Flag.BURST, Flag.REPEAT, Flag.STAFF_ACCOUNT, Flag.FAR_FROM_ISSUE)


def test_a_code_round_trips_and_is_never_an_invitations_length() -> None:
    for code_id in (1, 77, 2**31 - 1):
        text = payload(code_id, KEYS)
        assert text.startswith("c_") and len(text) == 29 != 32
        assert code_of(text, KEYS) == code_id


def test_a_forged_or_altered_code_is_not_recognised() -> None:
    genuine = payload(42, KEYS)
    assert code_of(payload(42, CitizenKeys.of("x" * 32)), KEYS) is None
    altered = genuine[:-1] + ("A" if genuine[-1] != "A" else "B")
    assert code_of(altered, KEYS) is None
    assert code_of("c_" + "A" * 27, KEYS) is None
    assert code_of(genuine + "A", KEYS) is None
    assert code_of("c_!!!!!!!!!!!!!!!!!!!!!!!!!!!", KEYS) is None
    assert code_of("c_" + "A" * 30, KEYS) is None, "an invitation's 32 characters"


def test_account_hashes_are_keyed() -> None:
    digest = KEYS.account_hash(123456789)
    assert len(digest) == 64 and "123456789" not in digest
    assert digest == KEYS.account_hash(123456789)
    assert digest != CitizenKeys.of("y" * 32).account_hash(123456789)
    assert digest != KEYS.account_hash(123456780)


def test_a_press_is_signed_for_one_account_and_one_code() -> None:
    mac = KEYS.press_mac(5, 1001)
    assert len(mac) == 8
    assert mac != KEYS.press_mac(5, 1002)
    assert mac != KEYS.press_mac(6, 1001)


def test_the_default_policy_has_citizens_rate_a_qualitative_indicator() -> None:
    policy = load_policy()
    assert weighs_citizens(policy)
    assert citizen_indicators(policy, "service") == ["citizen_satisfaction"]
    assert citizen_indicators(policy, "law_enforcement") == ["enforcement_compliance"]
    assert citizen_indicators(policy, "management") == [], "service_recipient weighs 0"
    assert citizen_indicators(policy, None) == []
    assert policy.citizens.burst_max == 20


def test_a_post_type_weighing_citizens_without_a_qualitative_indicator_is_refused(
    tmp_path: Path,
) -> None:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    old = 'weight = 0.3\nkind = "qualitative"\npoints = 100\ncommon = false\n'
    assert text.count(old) == 1
    broken = text.replace(
        old,
        'unit = { en = "%", zh_Hans = "%", zh_Hant = "%" }\nweight = 0.3\n'
        'kind = "quantitative"\npoints = 1\ncommon = false\naggregate = "mean"\n',
    )
    path = tmp_path / "policy.toml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(PolicyError, match=r"raters\.service\.service_recipient"):
        load_policy(path)


def test_a_code_cannot_be_late_after_it_expired(tmp_path: Path) -> None:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    path = tmp_path / "policy.toml"
    path.write_text(
        text.replace("far_from_issue_minutes = 15", "far_from_issue_minutes = 45"),
        encoding="utf-8",
    )
    with pytest.raises(PolicyError, match="far_from_issue_minutes"):
        load_policy(path)

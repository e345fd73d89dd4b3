"""HR's prompt to correct a paid bonus after a changed grade, and the presses behind
withdrawing an allowance and previewing a correction: pure rendering and parsing."""

from __future__ import annotations

import pytest

from assessment.bonus_changes import ChangedResult, correction_key
from config.policy import load_policy
from handlers.bonus_changes import correction_prompt
from handlers.callbacks import BonusCorrect, BonusWithdraw, parse
from storage.repositories.calendar import Recipient

POLICY = load_policy()
CHANGE = ChangedResult(
    case_id=12,
    kind="review",
    period_id=3,
    period_key="2026-11",
    staff_id=40,
    employee_no="E011",
    name="Su Yi",
    grade_before="good",
    grade_after="excellent",
    paid_by=1,
)


def _hr(language: str | None, telegram_language: str | None = None) -> Recipient:
    return Recipient(7, 9001, "Hu Rong", language, telegram_language)


def test_the_prompt_names_who_and_which_period_changed_and_no_money() -> None:
    message = correction_prompt("zh_Hans", POLICY, _hr("en"), CHANGE)
    assert message.text == (
        "Su Yi (E011)'s grade for November 2026 was changed on review: Good → Excellent. "
        "Bonus run 1 paid the grade before: a correction pays or recovers the difference."
    )
    assert (message.chat_id, message.staff_id) == (9001, 7)
    assert message.dedup_key == correction_key(12, 7) == "bonus-correction/12/staff/7"
    [[button]] = message.markup["inline_keyboard"] if message.markup else [[]]
    assert button["text"] == "Preview the correction"
    assert parse(button["callback_data"]) == BonusCorrect(12, 1)
    assert "¥" not in (message.text or "") and "CN" not in (message.text or "")


def test_the_prompt_is_in_the_hr_members_language_and_says_appeal_for_an_appeal() -> None:
    chinese = correction_prompt("en", POLICY, _hr(None, "zh-hant"), CHANGE)
    assert chinese.text is not None and chinese.text.startswith("Su Yi（E011）")
    assert "複核" in chinese.text and "第 1 次獎金計算" in chinese.text
    english = correction_prompt(
        "en",
        POLICY,
        _hr("en"),
        ChangedResult(13, "appeal", 3, "2026-11", 40, "E011", "Su Yi", "excellent", "good", 2),
    )
    assert english.text is not None and "was changed on appeal: Excellent → Good" in english.text
    assert english.dedup_key != chinese.dedup_key


@pytest.mark.parametrize(
    "data", ["bnw:0", "bnw:-1", "bnw:01", "bnw:1:2", "bnc:1", "bnc:1:0", "bnc:x:1", "bnc:1:2:3"]
)
def test_forged_presses_parse_to_nothing(data: str) -> None:
    assert parse(data) is None


def test_the_presses_round_trip() -> None:
    assert parse(BonusWithdraw(2**31 - 1).pack()) == BonusWithdraw(2**31 - 1)
    assert parse(BonusCorrect(5, 3).pack()) == BonusCorrect(5, 3)

"""HR's prompt to correct a paid bonus after a changed grade, and the presses behind
withdrawing an allowance and previewing a correction: pure rendering and parsing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from assessment.bonus_changes import AllowanceRow, ChangedResult, Person, Withdrawn, correction_key
from config.policy import load_policy
from handlers.bonus_changes import correction_prompt, withdrawn_text
from handlers.callbacks import BonusCorrect, BonusWithdraw, parse
from locales import translator
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


ALLOWANCE = AllowanceRow(
    5, 3, "2026-11", 40, "hardship", "Mountain station", datetime(2026, 12, 1, tzinfo=UTC), None
)
SU_YI = Person(40, "E011", "Su Yi")
WITHDRAWN = "Withdrawn: Su Yi (E011)'s Hardship post (CN¥300.00) for November 2026. Reason: Moved"


def _withdrawn(paid_by: int | None, pool: Decimal | None = None) -> Withdrawn:
    return Withdrawn(ALLOWANCE, SU_YI, "Moved", Decimal("300.00"), paid_by, pool)


def test_a_withdrawal_before_payment_says_the_next_preview_pays_without_it() -> None:
    assert withdrawn_text(translator("en"), POLICY, _withdrawn(None)) == (
        WITHDRAWN + "\nThe period's next preview (/bonus 2026-11) pays without it."
    )


def test_a_withdrawal_after_payment_says_the_next_correction_recovers_its_amount() -> None:
    assert withdrawn_text(translator("en"), POLICY, _withdrawn(1)) == (
        WITHDRAWN + "\nBonus run 1 of November 2026 paid it: the next correction "
        "(/bonus 2026-11 REASON) recovers CN¥300.00 from Su Yi (E011)."
    )
    chinese = withdrawn_text(translator("zh_Hans"), POLICY, _withdrawn(1))
    assert chinese.endswith(
        "2026年11月第 1 次奖金计算已发放这项津贴：下一次更正（/bonus 2026-11 原因）"
        "将向Su Yi（E011）追回 ¥300.00。"
    ), chinese


def test_in_pool_mode_it_says_the_same_pool_shares_it_again() -> None:
    text = withdrawn_text(translator("en"), POLICY, _withdrawn(2, Decimal("54321.09")))
    assert text.endswith(
        "\nBonus run 2 of November 2026 paid it from a pool of CN¥54,321.09: the next "
        "correction, with the same pool (/bonus 2026-11 54321.09 REASON), recovers CN¥300.00 "
        "from Su Yi (E011) and shares it again with the rest of the pool, by grade "
        "coefficient x post difficulty (their share of it included)."
    ), text
    chinese = withdrawn_text(translator("zh_Hant"), POLICY, _withdrawn(2, Decimal("54321.09")))
    assert "（/bonus 2026-11 54321.09 原因）" in chinese and "追回 CN¥300.00" in chinese

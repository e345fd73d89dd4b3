"""Text the code puts together from pieces reads as Chinese in Chinese: ，；：（）and 、."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from assessment.roster import ImportSummary
from handlers.approval_messages import digest_line, pending_line, request_text
from handlers.formatting import listed, listed_at_most, person_label
from handlers.roster_text import describe_summary
from locales import Translator, translator
from tests.unit.test_catalogs import half_width_marks

TUESDAY = date(2026, 12, 1)
HANS, HANT, ENGLISH = translator("zh_Hans"), translator("zh_Hant"), translator("en")


def test_an_approval_list_line_in_simplified_chinese() -> None:
    line = pending_line(HANS, 3, "李雷", "E001", TUESDAY, "办理 12 件许可证")
    assert line == "3. 李雷（E001），12月1日周二：办理 12 件许可证"
    assert list(half_width_marks(line)) == []


def test_the_same_line_in_traditional_chinese_and_in_english() -> None:
    assert pending_line(HANT, 3, "李雷", "E001", TUESDAY, "許可證") == (
        "3. 李雷（E001），12月1日週二：許可證"
    )
    assert pending_line(ENGLISH, 3, "Li Lei", "E001", TUESDAY, "permits") == (
        "3. Li Lei (E001), Tue, Dec 1: permits"
    )


def test_a_request_and_a_digest_line_in_chinese() -> None:
    request = request_text(HANS, "李雷", "E001", TUESDAY, "许可证")
    assert request.splitlines()[0] == "待审核记录：李雷（E001），12月1日周二"
    assert digest_line(HANS, TUESDAY, "许可证") == "• 12月1日周二：许可证"


@pytest.mark.parametrize(
    ("language", "expected"),
    [(HANS, "李雷（E001）、韩梅梅（E002）"), (ENGLISH, "李雷 (E001), 韩梅梅 (E002)")],
)
def test_a_list_of_people(language: Translator, expected: str) -> None:
    _ = language.gettext
    people = [person_label(_, "李雷", "E001"), person_label(_, "韩梅梅", "E002")]
    assert listed(_, people) == expected


def test_a_roster_summary_lists_chinese_departments_with_the_enumeration_comma() -> None:
    summary = ImportSummary(
        file_name="roster.csv",
        created=("E1",),
        updated=(),
        unchanged=(),
        missing=tuple(f"E{n}" for n in range(100, 125)),
        marked_left=(),
        departments_created=("财务处", "办公室"),
        posts_created=(),
        posts_updated=(),
        role_changes={},
        dry_run=False,
    )
    lines = describe_summary(summary, HANS.gettext, HANS.ngettext).splitlines()
    assert "新建 2 个部门：财务处、办公室" in lines
    [missing] = [line for line in lines if "E100" in line]
    assert missing.endswith("E118、E119、…")
    for line in describe_summary(
        dataclasses.replace(summary, missing=()), HANS.gettext, HANS.ngettext
    ).splitlines():
        assert list(half_width_marks(line)) == [], line


def test_a_list_of_100000_people_stays_within_one_telegram_message() -> None:
    numbers = [f"E{n:06d}" for n in range(100_000)]
    for locale in ("en", "zh_Hans", "zh_Hant"):
        language = translator(locale)
        text = listed_at_most(language.gettext, language.ngettext, numbers)
        assert len(text) < 1000, locale
        assert text.startswith("E000000") and "99970" in text, locale
    assert listed_at_most(translator("en").gettext, translator("en").ngettext, ["E1", "E2"]) == (
        "E1, E2"
    )
    zh = translator("zh_Hans")
    assert listed_at_most(zh.gettext, zh.ngettext, numbers).endswith("，另有99970人")

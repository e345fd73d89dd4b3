"""Which language a person gets, and that every catalog loads."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from locales import SUPPORTED, from_telegram, resolve_locale, translator


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("en", "en"),
        ("en-US", "en"),
        ("en-GB", "en"),
        ("zh", "zh_Hans"),
        ("zh-hans", "zh_Hans"),
        ("zh-Hans-CN", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("zh-SG", "zh_Hans"),
        ("zh-hant", "zh_Hant"),
        ("zh-TW", "zh_Hant"),
        ("zh-HK", "zh_Hant"),
        ("zh-Hant-HK", "zh_Hant"),
        ("zh_TW", "zh_Hant"),
        ("fr", None),
        ("", None),
        (None, None),
        ("not a tag!", None),
    ],
)
def test_from_telegram(code: str | None, expected: str | None) -> None:
    assert from_telegram(code) == expected


def test_stored_choice_beats_telegram_beats_default() -> None:
    assert resolve_locale("zh_Hant", "en-US", "zh_Hans") == "zh_Hant"
    assert resolve_locale(None, "en-US", "zh_Hans") == "en"
    assert resolve_locale(None, "de", "zh_Hans") == "zh_Hans"
    assert resolve_locale("klingon", None, "en") == "en"


@given(st.one_of(st.none(), st.text(max_size=40)))
def test_any_language_code_resolves_to_a_supported_locale(code: str | None) -> None:
    assert resolve_locale(None, code, "zh_Hans") in SUPPORTED


@pytest.mark.parametrize("locale", SUPPORTED)
def test_each_catalog_translates(locale: str) -> None:
    _ = translator(locale).gettext
    text = _("workledger: one record a day, one check a month.")
    if locale == "en":
        assert text == "workledger: one record a day, one check a month."
    else:
        assert "一" in text
    assert translator(locale).babel.language in {"en", "zh"}


def test_unsupported_locale_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        translator("fr")

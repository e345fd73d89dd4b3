"""Every message is translated in every catalog, with the same placeholders."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from locales import LOCALES_DIR, SUPPORTED, catalog_path

ROOT = Path(__file__).resolve().parents[2]


def _read(path: Path) -> Catalog:
    with path.open("rb") as po:
        return read_po(po)


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def _forms(message: Message) -> tuple[list[str], list[str]]:
    ids = [message.id] if isinstance(message.id, str) else list(message.id)
    strings = [message.string] if isinstance(message.string, str) else list(message.string)
    return ids, strings


def catalog_problems(template: Catalog, catalog: Catalog) -> list[str]:
    """What is missing, fuzzy or mismatched in ``catalog`` against ``template``."""
    problems = []
    for expected in template:
        if not expected.id:
            continue
        message = catalog.get(expected.id)
        if message is None:
            problems.append(f"missing: {expected.id!r}")
            continue
        ids, strings = _forms(message)
        if message.fuzzy:
            problems.append(f"fuzzy: {expected.id!r}")
        if not all(strings):
            problems.append(f"untranslated: {expected.id!r}")
            continue
        wanted = set().union(*(_placeholders(text) for text in ids))
        for text in strings:
            try:
                found = _placeholders(text)
            except ValueError as error:
                problems.append(f"broken placeholder in {text!r}: {error}")
                continue
            if found != wanted:
                problems.append(f"placeholders {sorted(found)} != {sorted(wanted)} in {text!r}")
    return problems


def test_template_is_current(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The template holds every message the code uses (run ``scripts/i18n all`` if not)."""
    fresh = tmp_path / "messages.pot"
    monkeypatch.chdir(ROOT)
    CommandLineInterface().run(
        [
            "pybabel", "extract", "-F", "babel.cfg", "-k", "N_", "-k", "_",
            "-k", "ngettext:1,2", "--no-location", "-o", str(fresh),
            "bot", "handlers", "assessment", "config", "locales",
        ]
    )  # fmt: skip
    in_code = {m.id if isinstance(m.id, str) else m.id[0] for m in _read(fresh) if m.id}
    in_template = {
        m.id if isinstance(m.id, str) else m.id[0]
        for m in _read(LOCALES_DIR / "messages.pot")
        if m.id
    }
    assert sorted(in_code - in_template) == [], "run scripts/i18n all"


@pytest.mark.parametrize("locale", SUPPORTED)
def test_catalog_complete(locale: str) -> None:
    """No message is missing, fuzzy, untranslated or has other placeholders."""
    template = _read(LOCALES_DIR / "messages.pot")
    assert catalog_problems(template, _read(catalog_path(locale))) == []


def test_the_check_catches_a_missing_translation_and_a_wrong_placeholder() -> None:
    """The completeness check itself fails when it should."""
    template = Catalog()
    template.add("Hello {name}")
    template.add("Bye")
    template.add(("{n} entry", "{n} entries"))
    broken = Catalog(locale="zh_Hans")
    broken.add("Hello {name}", "你好 {姓名}")
    broken.add("Bye", "")
    broken.add(("{n} entry", "{n} entries"), ("{count} 条",))
    problems = catalog_problems(template, broken)
    assert any("placeholders" in p and "姓名" in p for p in problems)
    assert any(p.startswith("untranslated: 'Bye'") for p in problems)
    assert any("{count}" in p for p in problems)
    assert catalog_problems(template, Catalog(locale="en"))[0].startswith("missing")

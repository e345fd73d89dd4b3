"""Every message is translated in every catalog, with the same placeholders."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
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


# What counts as Chinese next to a mark: ideographs, CJK punctuation (、。「」《》), the
# full-width forms (，；：（）！？) and the quotation marks Chinese text uses (“” ‘’). Not by
# east_asian_width, which calls most emoji wide, and without 〰 and 〽 (U+3030, U+303D), the
# two emoji in the CJK punctuation block: "⏰ 17:30" or "✅ (2)" are not Chinese.
_CJK = re.compile(
    "[\u2018\u2019\u201c\u201d\u3000-\u302f\u3031-\u303c\u303e\u303f"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff60\uffe0-\uffe6"
    "\U00020000-\U0003ffff]"
)
HALF_WIDTH = ",;:()"
FULL_WIDTH = {",": "，", ";": "；", ":": "：", "(": "（", ")": "）"}
# A link is left alone, with its own colons and commas; marks that end it belong to the text.
_URL = re.compile(r"[a-z][a-z0-9+.-]*://[!-~]*?(?=[,;:()]*(?:[^!-~]|$))", re.IGNORECASE)
# ``/delegate EMPLOYEE_NO DATE``: the words a command's help puts in place of what to type.
_COMMAND_ARGUMENTS = re.compile(r"/[a-z_]+((?: [A-Z][A-Z_]+(?:\.\.\.)?)+)")


def _is_field(unit: str) -> bool:
    # A replacement field, kept whole ("{name}"); a lone "{" is an escaped brace.
    return len(unit) > 1 and unit.startswith("{")


def _units(text: str) -> list[str]:
    """``text`` as characters, each replacement field and each link as one unit."""
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError:  # reported by catalog_problems
        parts = [(text, None, None, None)]
    units: list[str] = []
    for literal, field, spec, conversion in parts:
        position = 0
        for link in _URL.finditer(literal):
            units += [*literal[position : link.start()], link.group()]
            position = link.end()
        units += literal[position:]
        if field is not None:
            units.append(
                "{" + field + (f"!{conversion}" if conversion else "")
                + (f":{spec}" if spec else "") + "}"
            )  # fmt: skip
    return units


def _neighbour(units: list[str], index: int, step: int) -> str | None:
    """What a mark touches on one side: past other marks of its run and one space."""
    index += step
    spaced = False
    while 0 <= index < len(units):
        unit = units[index]
        if unit == " " and not spaced:
            spaced = True
        elif unit not in HALF_WIDTH:
            return unit
        index += step
    return None


def half_width_marks(text: str) -> Iterator[str]:
    """Each ASCII ``,;:()`` in ``text`` that touches Chinese, a field, or a mark that does.

    "Touches": the character right before or after, past a single space and past the other
    marks of a run (``"{name} ({no}), {day}:"`` is judged mark by mark, ``"), "`` as one).
    Times (``17:30``), ``HH:MM``, ASCII lists (``employee_no, name``) and links are not
    touched by Chinese, so they pass.
    """
    units = _units(text)
    for index, unit in enumerate(units):
        if unit not in HALF_WIDTH:
            continue
        for step in (-1, 1):
            near = _neighbour(units, index, step)
            # A field is filled with Chinese (a name, a date, departments) or with a number
            # that Chinese text still brackets full-width: （{employee_no}）.
            if near is not None and (_is_field(near) or _CJK.fullmatch(near)):
                before = "".join(units[max(0, index - 6) : index])
                after = "".join(units[index + 1 : index + 7])
                yield f"{unit!r} (use {FULL_WIDTH[unit]}) in …{before}[{unit}]{after}…"
                break


def chinese_text_problems(catalog: Catalog) -> list[str]:
    """Half-width marks in Chinese text, and help that keeps English placeholders."""
    problems = []
    for message in catalog:
        if not message.id:
            continue
        ids, strings = _forms(message)
        english = {
            word.removesuffix("...")
            for text in ids
            for arguments in _COMMAND_ARGUMENTS.findall(text)
            for word in arguments.split()
        }
        for text in strings:
            problems += [f"{mark} of {text!r}" for mark in half_width_marks(text)]
            left = sorted(word for word in english if re.search(rf"\b{word}\b", text))
            if left:
                problems.append(f"English placeholders {left} in {text!r}")
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


@pytest.mark.parametrize("locale", [locale for locale in SUPPORTED if locale.startswith("zh")])
def test_chinese_text_uses_full_width_marks_and_chinese_placeholders(locale: str) -> None:
    """Chinese messages say ，；：（） and 工号, as the rest of the catalog does."""
    assert chinese_text_problems(_read(catalog_path(locale))) == []


@pytest.mark.parametrize(
    "text",
    [
        "Li Lei (E001), 12月1日周二: 办证",
        "已加入; 今天已记录",
        "{name} ({employee_no})",
        "{name}（{employee_no}), {day}",
        "{day}: {text}",
        "共 {count} 条 (含草稿)",
        "“完成”:",
        "休假: Su Yi",
    ],
)
def test_the_mark_check_catches_half_width_marks_in_chinese(text: str) -> None:
    assert list(half_width_marks(text)) != []


@pytest.mark.parametrize(
    "text",
    [
        "于 17:30 提醒",
        "时间格式 HH:MM，例如 09:05",
        "打开 https://t.me/workledger_bot?start=a,b:c，然后点“开始”",
        "(https://example.org/a(b))",
        "列为 employee_no, name, department。",
        "CSV（UTF-8）或 Excel（XLSX）",
        "⏰ (2)",
        "〽: 〰,",
        "{count:,} 人",
        "李雷  (E001)",
        "English text (E001), 12:30: fine",
    ],
)
def test_the_mark_check_lets_times_links_ascii_lists_and_emoji_be(text: str) -> None:
    assert list(half_width_marks(text)) == []


def test_the_check_catches_english_placeholders_in_chinese_help() -> None:
    catalog = Catalog(locale="zh_Hans")
    catalog.add("Invite staff: /invite EMPLOYEE_NO...", "邀请人员：/invite EMPLOYEE_NO...")
    catalog.add("Delegate: /delegate EMPLOYEE_NO DATE", "委托：/delegate 工号 DATE")
    catalog.add("Unlink: /unlink EMPLOYEE_NO", "解除绑定：/unlink 工号")
    assert chinese_text_problems(catalog) == [
        "English placeholders ['EMPLOYEE_NO'] in '邀请人员：/invite EMPLOYEE_NO...'",
        "English placeholders ['DATE'] in '委托：/delegate 工号 DATE'",
    ]

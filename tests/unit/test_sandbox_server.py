"""The sandbox server's pure parts: which Host names it answers to, transcripts, languages."""

from __future__ import annotations

from bot.emulator.model import EmulatedUser
from bot.sandbox.server import (
    allowed_hosts,
    content_disposition,
    telegram_language,
    transcript,
    transcript_text,
)


def test_loopback_names_and_the_given_host_only() -> None:
    assert allowed_hosts("127.0.0.1", 8080) == {
        "127.0.0.1:8080",
        "localhost:8080",
        "[::1]:8080",
    }
    assert "192.168.1.5:9000" in (allowed_hosts("192.168.1.5", 9000) or set())
    assert "[fe80::1]:81" in (allowed_hosts("fe80::1", 81) or set())
    # A wildcard bind: the person chose to be reached by any name.
    assert allowed_hosts("0.0.0.0", 8080) is None  # noqa: S104


def test_transcript_lines_and_text() -> None:
    ann = EmulatedUser(id=5, first_name="Ann", last_name="Lee")
    messages = [
        {
            "message_id": 1,
            "date": 0,
            "from_bot": False,
            "text": "/start",
            "edit_count": 0,
        },
        {
            "message_id": 2,
            "date": 60,
            "from_bot": True,
            "text": "Approve?",
            "reply_markup": {
                "inline_keyboard": [[{"text": "Approve", "callback_data": "ap:1:1:a"}]]
            },
            "edit_count": 1,
        },
        {"message_id": 3, "date": 61, "from_bot": True, "text": "gone", "deleted": True},
        {
            "message_id": 4,
            "date": 62,
            "from_bot": True,
            "text": None,
            "caption": "the roster",
            "document": {"file_name": "roster.xlsx"},
        },
    ]
    lines = transcript(messages, ann)
    assert [(line["sender"], line["text"]) for line in lines] == [
        ("Ann Lee", "/start"),
        ("bot", "Approve?"),
        ("bot", "the roster"),
    ]
    assert lines[1]["buttons"] == [["Approve"]]
    assert lines[0]["time"] == "1970-01-01T00:00:00+00:00"
    text = transcript_text(lines)
    assert "[1970-01-01T00:01:00+00:00] bot (edited)\nApprove?\n[Approve]" in text
    assert "[document: roster.xlsx]" in text
    assert "gone" not in text


def testtelegram_languages_of_the_organisations_locales() -> None:
    assert telegram_language("zh_Hant") == "zh-hant"
    assert telegram_language("zh_Hans") == "zh-hans"
    assert telegram_language("zh") == "zh-hans"
    assert telegram_language(None) == "en"
    assert telegram_language("fr") == "en"


def test_a_download_keeps_a_chinese_file_name() -> None:
    header = content_disposition("attachment", '团队 "11月".xlsx')
    assert header == (
        'attachment; filename="__ _11__.xlsx"; '
        "filename*=UTF-8''%E5%9B%A2%E9%98%9F%20%2211%E6%9C%88%22.xlsx"
    )

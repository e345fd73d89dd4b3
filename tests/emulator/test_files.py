"""Documents and photos: multipart uploads, file ids, getFile and downloads."""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

import aiohttp
import pytest

from bot.emulator import EmulatedUser, EmulatorDriver, api_media
from tests.emulator.conftest import TOKEN, RawApi


def png(width: int, height: int) -> bytes:
    """A valid (blank, greyscale) PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def upload(
    api: RawApi, method: str, field: str, content: bytes, filename: str, **params: Any
) -> tuple[int, dict[str, Any]]:
    form = aiohttp.FormData()
    for key, value in params.items():
        form.add_field(key, value if isinstance(value, str) else json.dumps(value))
    form.add_field(field, content, filename=filename, content_type="application/octet-stream")
    url = f"{api.running.base_url}{TOKEN}/{method}"
    async with api.session.post(url, data=form) as response:
        return response.status, await response.json()


@pytest.fixture
async def chat(driver: EmulatorDriver, ann: EmulatedUser) -> int:
    await driver.add_user(ann)
    return ann.id


async def test_document_upload_and_download(
    api: RawApi, driver: EmulatorDriver, chat: int
) -> None:
    content = b"employee_no,name\n1,Ann\n"
    status, body = await upload(
        api,
        "sendDocument",
        "document",
        content,
        "roster.csv",
        chat_id=str(chat),
        caption="<b>Roster</b>",
        parse_mode="HTML",
        reply_markup={"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]},
    )
    assert status == 200, body
    message = body["result"]
    document = message["document"]
    assert document["file_name"] == "roster.csv"
    assert document["mime_type"] == "text/csv"
    assert document["file_size"] == len(content)
    assert message["caption"] == "Roster"
    assert message["caption_entities"] == [{"offset": 0, "length": 6, "type": "bold"}]

    file = await api.ok("getFile", file_id=document["file_id"])
    assert file["file_size"] == len(content)
    async with api.session.get(f"{api.running.base_file_url}{TOKEN}/{file['file_path']}") as r:
        assert r.status == 200
        assert await r.read() == content
    assert await driver.file_bytes(document["file_id"]) == content
    (view,) = await driver.messages(chat)
    assert view["document"]["file_id"] == document["file_id"]

    # Resending by file_id reuses the stored file.
    again = await api.ok("sendDocument", chat_id=chat, document=document["file_id"])
    assert again["document"]["file_id"] == document["file_id"]


async def test_attach_reference(api: RawApi, chat: int) -> None:
    status, body = await upload(
        api, "sendDocument", "part1", b"abc", "a.txt", chat_id=str(chat), document="attach://part1"
    )
    assert status == 200, body
    assert body["result"]["document"]["file_name"] == "a.txt"


async def test_document_errors(api: RawApi, chat: int, monkeypatch: pytest.MonkeyPatch) -> None:
    assert await api.fails("sendDocument", 400, chat_id=chat) == (
        "Bad Request: there is no document in the request"
    )
    assert await api.fails("sendDocument", 400, chat_id=chat, document="nope") == (
        "Bad Request: wrong file identifier/HTTP URL specified"
    )
    status, body = await upload(api, "sendDocument", "document", b"", "e.txt", chat_id=str(chat))
    assert (status, body["description"]) == (400, "Bad Request: file must be non-empty")
    # The 50 MB rule, checked with a smaller limit to keep the test fast.
    monkeypatch.setattr(api_media, "MAX_DOCUMENT", 10)
    status, body = await upload(api, "sendDocument", "document", b"x" * 11, "b", chat_id=str(chat))
    assert (status, body["description"]) == (413, "Request Entity Too Large")
    status, body = await upload(
        api, "sendDocument", "document", b"x", "c.txt", chat_id=str(chat), caption="c" * 1025
    )
    assert (status, body["description"]) == (400, "Bad Request: message caption is too long")


async def test_photo_upload(api: RawApi, driver: EmulatorDriver, chat: int) -> None:
    status, body = await upload(api, "sendPhoto", "photo", png(30, 20), "p.png", chat_id=str(chat))
    assert status == 200, body
    (size,) = body["result"]["photo"]
    assert (size["width"], size["height"]) == (30, 20)
    mid = body["result"]["message_id"]
    edited = await api.ok("editMessageCaption", chat_id=chat, message_id=mid, caption="Chart")
    assert edited["caption"] == "Chart"
    assert await api.fails("sendDocument", 400, chat_id=chat, document=size["file_id"]) == (
        "Bad Request: type of file mismatch"
    )
    assert await driver.file_bytes(size["file_id"]) == png(30, 20)


async def test_photo_errors(api: RawApi, chat: int) -> None:
    status, body = await upload(
        api, "sendPhoto", "photo", b"not an image", "p.png", chat_id=str(chat)
    )
    assert (status, body["description"]) == (400, "Bad Request: IMAGE_PROCESS_FAILED")
    status, body = await upload(
        api, "sendPhoto", "photo", png(420, 20), "p.png", chat_id=str(chat)
    )
    assert (status, body["description"]) == (400, "Bad Request: PHOTO_INVALID_DIMENSIONS")


async def test_files_sent_by_users(api: RawApi, driver: EmulatorDriver, ann: EmulatedUser) -> None:
    update = await driver.send_document(
        ann, "timesheet.xlsx", b"PK\x03\x04data", caption="November"
    )
    document = update["message"]["document"]
    assert document["file_name"] == "timesheet.xlsx"
    assert document["mime_type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert update["message"]["caption"] == "November"
    file = await api.ok("getFile", file_id=document["file_id"])
    async with api.session.get(f"{api.running.base_file_url}{TOKEN}/{file['file_path']}") as r:
        assert await r.read() == b"PK\x03\x04data"

    photo_update = await driver.send_photo(ann, png(8, 6))
    (size,) = photo_update["message"]["photo"]
    assert (size["width"], size["height"]) == (8, 6)
    assert await driver.file_bytes(size["file_id"]) == png(8, 6)
    assert await api.fails("getFile", 400, file_id="missing") == "Bad Request: invalid file_id"


async def test_unknown_download_path_is_404(api: RawApi) -> None:
    async with api.session.get(f"{api.running.base_file_url}{TOKEN}/documents/nope") as r:
        assert r.status == 404

"""Bot API methods about files: sendDocument, sendPhoto, getFile."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.emulator.api_messages import remember_keyboard
from bot.emulator.errors import ENTITY_TOO_LARGE, ApiError, bad_request
from bot.emulator.files import image_size
from bot.emulator.markup import parse_reply_markup
from bot.emulator.model import JSONDict, StoredFile
from bot.emulator.params import Params, UploadedFile
from bot.emulator.text import caption_text

if TYPE_CHECKING:
    from bot.emulator.dispatch import Handler
    from bot.emulator.state import BotApiEmulator

MB = 1024 * 1024
MAX_DOCUMENT = 50 * MB
MAX_PHOTO = 10 * MB
MAX_DOWNLOAD = 20 * MB


def _existing(emulator: BotApiEmulator, file_id: str, kind: str) -> StoredFile:
    stored = emulator.file(file_id)
    if stored is None:
        raise bad_request("Bad Request: wrong file identifier/HTTP URL specified")
    if stored.kind != kind:
        raise bad_request("Bad Request: type of file mismatch")
    return stored


def _document(emulator: BotApiEmulator, value: UploadedFile | str | None) -> StoredFile:
    if value is None:
        raise bad_request("Bad Request: there is no document in the request")
    if isinstance(value, str):
        return _existing(emulator, value, "document")
    if not value.content:
        raise bad_request("Bad Request: file must be non-empty")
    if len(value.content) > MAX_DOCUMENT:
        raise ApiError(413, ENTITY_TOO_LARGE)
    mime_type = value.mime_type
    if mime_type == "application/octet-stream":
        mime_type = None  # let the file name decide, as Telegram does
    return emulator.files.add(
        value.content, kind="document", file_name=value.filename or "document", mime_type=mime_type
    )


def _photo(emulator: BotApiEmulator, value: UploadedFile | str | None) -> StoredFile:
    if value is None:
        raise bad_request("Bad Request: there is no photo in the request")
    if isinstance(value, str):
        return _existing(emulator, value, "photo")
    if not value.content:
        raise bad_request("Bad Request: file must be non-empty")
    if len(value.content) > MAX_PHOTO:
        raise bad_request("Bad Request: PHOTO_SAVE_FILE_INVALID")
    size = image_size(value.content)
    if size is None:
        raise bad_request("Bad Request: IMAGE_PROCESS_FAILED")
    width, height = size
    if width + height > 10000 or max(width, height) > 20 * max(min(width, height), 1):
        raise bad_request("Bad Request: PHOTO_INVALID_DIMENSIONS")
    return emulator.files.add(
        value.content, kind="photo", file_name=None, mime_type="image/jpeg", size=size
    )


async def _send_media(emulator: BotApiEmulator, params: Params, kind: str) -> JSONDict:
    chat = emulator.chat_for_bot(params.chat_id())
    source = params.str_("caption")
    parse_mode = params.str_("parse_mode")
    caption, entities = caption_text(source, parse_mode, params.json_("caption_entities"))
    markup = parse_reply_markup(params.json_("reply_markup"))
    value = params.input_file(kind)
    stored = _document(emulator, value) if kind == "document" else _photo(emulator, value)
    remember_keyboard(chat, markup)
    message = emulator.add_bot_message(
        chat,
        caption=caption,
        caption_entities=entities,
        source=source,
        parse_mode=parse_mode,
        reply_markup=markup,
        **{kind: stored},
    )
    return message.to_api()


async def send_document(emulator: BotApiEmulator, params: Params) -> JSONDict:
    """``sendDocument``: an upload (multipart), or the file_id of a stored document."""
    return await _send_media(emulator, params, "document")


async def send_photo(emulator: BotApiEmulator, params: Params) -> JSONDict:
    """``sendPhoto``: an upload (a real PNG/JPEG/GIF/WebP), or a photo file_id."""
    return await _send_media(emulator, params, "photo")


async def get_file(emulator: BotApiEmulator, params: Params) -> JSONDict:
    """``getFile``: the path to download from ``/file/bot<token>/<file_path>``."""
    stored = emulator.file(params.required_str("file_id"))
    if stored is None:
        raise bad_request("Bad Request: invalid file_id")
    if len(stored.content) > MAX_DOWNLOAD:
        raise bad_request("Bad Request: file is too big")
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.content),
        "file_path": stored.file_path,
    }


HANDLERS: dict[str, Handler] = {
    "sendDocument": send_document,
    "sendPhoto": send_photo,
    "getFile": get_file,
}

"""Bot API methods about messages: send, edit, delete, callback answers, chat actions."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from bot.emulator.errors import (
    CALLBACK_TEXT_TOO_LONG,
    CANT_EDIT,
    DELETE_NOT_FOUND,
    EDIT_NOT_FOUND,
    NO_CAPTION_TO_EDIT,
    NO_TEXT_TO_EDIT,
    NOT_MODIFIED,
    QUERY_INVALID,
    bad_request,
)
from bot.emulator.markup import is_inline, parse_reply_markup
from bot.emulator.model import Chat, JSONDict, StoredMessage
from bot.emulator.params import Params
from bot.emulator.text import caption_text, message_text

if TYPE_CHECKING:
    from bot.emulator.dispatch import Handler
    from bot.emulator.state import BotApiEmulator

MAX_CALLBACK_ANSWER = 200
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


def remember_keyboard(chat: Chat, markup: JSONDict | None) -> None:
    """A reply keyboard sent with a message becomes the chat's keyboard until removed."""
    if markup is not None and not is_inline(markup):
        chat.reply_keyboard = None if markup.get("remove_keyboard") else markup


async def send_message(emulator: BotApiEmulator, params: Params) -> JSONDict:
    """``sendMessage``."""
    chat = emulator.chat_for_bot(params.chat_id())
    source = params.str_("text")
    parse_mode = params.str_("parse_mode")
    text, entities = message_text(source, parse_mode, params.json_("entities"))
    markup = parse_reply_markup(params.json_("reply_markup"))
    remember_keyboard(chat, markup)
    message = emulator.add_bot_message(
        chat,
        text=text,
        entities=entities,
        source=source,
        parse_mode=parse_mode,
        reply_markup=markup,
    )
    return message.to_api()


def _inline_markup(params: Params) -> JSONDict | None:
    markup = parse_reply_markup(params.json_("reply_markup"))
    if markup is None:
        return None
    if not is_inline(markup):
        raise bad_request("Bad Request: inline keyboard expected")
    # An empty inline keyboard is how a bot removes the buttons.
    return markup if any(markup["inline_keyboard"]) else None


def _current_markup(message: StoredMessage) -> JSONDict | None:
    return message.reply_markup if is_inline(message.reply_markup) else None


def _message_to_edit(emulator: BotApiEmulator, params: Params) -> StoredMessage:
    if params.has("inline_message_id"):
        raise bad_request("Bad Request: MESSAGE_ID_INVALID")
    chat = emulator.chat_for_bot(params.chat_id())
    message_id = params.int_("message_id")
    if message_id is None:
        raise bad_request("Bad Request: message identifier is not specified")
    message = chat.messages.get(message_id)
    if message is None or message.deleted:
        raise bad_request(EDIT_NOT_FOUND)
    if not message.from_bot:
        raise bad_request(CANT_EDIT)
    return message


def _edited(emulator: BotApiEmulator, message: StoredMessage) -> JSONDict:
    message.edit_count += 1
    message.edit_date = int(emulator.wall())
    emulator.message_changed(message)
    return message.to_api()


async def edit_message_text(emulator: BotApiEmulator, params: Params) -> JSONDict:
    """``editMessageText``; leaving out reply_markup removes the buttons, like Telegram."""
    message = _message_to_edit(emulator, params)
    if message.text is None:
        raise bad_request(NO_TEXT_TO_EDIT)
    source = params.str_("text")
    parse_mode = params.str_("parse_mode")
    text, entities = message_text(source, parse_mode, params.json_("entities"))
    markup = _inline_markup(params)
    if (text, entities, markup) == (message.text, message.entities, _current_markup(message)):
        raise bad_request(NOT_MODIFIED)
    message.text = text
    message.entities = entities
    message.source = source
    message.parse_mode = parse_mode
    message.reply_markup = markup
    return _edited(emulator, message)


async def edit_message_caption(emulator: BotApiEmulator, params: Params) -> JSONDict:
    """``editMessageCaption`` (documents and photos)."""
    message = _message_to_edit(emulator, params)
    if message.document is None and message.photo is None:
        raise bad_request(NO_CAPTION_TO_EDIT)
    source = params.str_("caption")
    parse_mode = params.str_("parse_mode")
    caption, entities = caption_text(source, parse_mode, params.json_("caption_entities"))
    markup = _inline_markup(params)
    current = (message.caption, message.caption_entities, _current_markup(message))
    if (caption, entities, markup) == current:
        raise bad_request(NOT_MODIFIED)
    message.caption = caption
    message.caption_entities = entities
    message.source = source
    message.parse_mode = parse_mode
    message.reply_markup = markup
    return _edited(emulator, message)


async def edit_message_reply_markup(emulator: BotApiEmulator, params: Params) -> JSONDict:
    """``editMessageReplyMarkup``; no reply_markup removes the buttons."""
    message = _message_to_edit(emulator, params)
    markup = _inline_markup(params)
    if markup == _current_markup(message):
        raise bad_request(NOT_MODIFIED)
    message.reply_markup = markup
    return _edited(emulator, message)


async def delete_message(emulator: BotApiEmulator, params: Params) -> bool:
    """``deleteMessage``: the message stays visible to the driver, flagged deleted."""
    chat = emulator.chat_for_bot(params.chat_id())
    message = chat.messages.get(params.required_int("message_id"))
    if message is None or message.deleted:
        raise bad_request(DELETE_NOT_FOUND)
    message.deleted = True
    emulator.message_changed(message)
    return True


async def answer_callback_query(emulator: BotApiEmulator, params: Params) -> bool:
    """``answerCallbackQuery``: each query can be answered once."""
    query = emulator.callback_query(params.required_str("callback_query_id"))
    if query is None or query["answer"] is not None:
        raise bad_request(QUERY_INVALID)
    text = params.str_("text")
    if text is not None and len(text) > MAX_CALLBACK_ANSWER:
        raise bad_request(CALLBACK_TEXT_TOO_LONG)
    answer = query["answer"] = {
        "callback_query_id": query["callback_query_id"],
        "text": text,
        "show_alert": params.bool_("show_alert"),
        "url": params.str_("url"),
        "cache_time": params.int_("cache_time") or 0,
        "at": time.time(),
    }
    emulator.notify("answer", {**answer, "chat_id": query["chat_id"]})
    return True


async def send_chat_action(emulator: BotApiEmulator, params: Params) -> bool:
    """``sendChatAction``."""
    chat = emulator.chat_for_bot(params.chat_id())
    action = params.str_("action")
    if action not in CHAT_ACTIONS:
        raise bad_request("Bad Request: wrong parameter action in request")
    chat.last_action = action
    return True


HANDLERS: dict[str, Handler] = {
    "sendMessage": send_message,
    "editMessageText": edit_message_text,
    "editMessageCaption": edit_message_caption,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "deleteMessage": delete_message,
    "answerCallbackQuery": answer_callback_query,
    "sendChatAction": send_chat_action,
}

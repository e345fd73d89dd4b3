"""Errors raised inside the emulator.

Bot API failures carry Telegram's own status codes and description texts, because
python-telegram-bot picks its exception class from the HTTP status and the bot's
error handling often matches on the description.
"""

from __future__ import annotations

from typing import Any

# Texts exactly as the real Bot API answers them.
CHAT_NOT_FOUND = "Bad Request: chat not found"
CHAT_ID_EMPTY = "Bad Request: chat_id is empty"
BOT_BLOCKED = "Forbidden: bot was blocked by the user"
TEXT_EMPTY = "Bad Request: message text is empty"
TEXT_TOO_LONG = "Bad Request: message is too long"
CAPTION_TOO_LONG = "Bad Request: message caption is too long"
BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"
BUTTON_URL_INVALID = "Bad Request: BUTTON_URL_INVALID"
MARKUP_UNPARSABLE = "Bad Request: can't parse reply keyboard markup JSON object"
EDIT_NOT_FOUND = "Bad Request: message to edit not found"
DELETE_NOT_FOUND = "Bad Request: message to delete not found"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
CANT_EDIT = "Bad Request: message can't be edited"
NO_TEXT_TO_EDIT = "Bad Request: there is no text in the message to edit"
NO_CAPTION_TO_EDIT = "Bad Request: there is no caption in the message to edit"
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
CALLBACK_TEXT_TOO_LONG = "Bad Request: MESSAGE_TOO_LONG"
ENTITY_TOO_LARGE = "Request Entity Too Large"
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
POLL_SUPERSEDED = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)


class ApiError(Exception):
    """A Bot API failure, answered as ``{"ok": false, "error_code": ..., ...}``.

    Args:
        status: HTTP status and ``error_code`` (400, 403, 409, 429, 5xx...).
        description: Telegram's description text.
        retry_after: Seconds to wait; only meaningful with status 429.
    """

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def envelope(self) -> dict[str, Any]:
        """Returns the JSON body Telegram would send for this failure."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(description: str) -> ApiError:
    """Builds a 400 error; ``description`` must already start with ``Bad Request:``."""
    return ApiError(400, description)


class DriverError(Exception):
    """A driver action that could not happen (a button that is not there, no such chat)."""

"""Typed access to Bot API call parameters, whatever encoding they arrived in.

A JSON body carries native values, but form and multipart bodies carry only strings:
python-telegram-bot sends integers as ``"42"`` and objects such as ``reply_markup`` as
JSON text inside a form field. Each getter therefore accepts both shapes, so method
handlers never care how the call was encoded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.emulator.errors import CHAT_ID_EMPTY, CHAT_NOT_FOUND, bad_request

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


@dataclass(slots=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str
    content: bytes
    mime_type: str | None


class Params:
    """The parameters of one Bot API call.

    Args:
        values: Non-file parameters (strings from forms, native values from JSON).
        files: File parts of a multipart body, by form field name.
    """

    __slots__ = ("files", "values")

    def __init__(
        self,
        values: Mapping[str, Any],
        files: Mapping[str, UploadedFile] | None = None,
    ) -> None:
        self.values = dict(values)
        self.files = dict(files or {})

    def for_log(self) -> dict[str, Any]:
        """Returns the parameters as recorded in the call log (file parts summarised)."""
        if not self.files:
            return self.values
        logged = dict(self.values)
        for name, upload in self.files.items():
            logged[name] = {
                "filename": upload.filename,
                "mime_type": upload.mime_type,
                "size": len(upload.content),
            }
        return logged

    def has(self, name: str) -> bool:
        """Tells whether the parameter was given (and is not null)."""
        return self.values.get(name) is not None or name in self.files

    def str_(self, name: str) -> str | None:
        """Returns a string parameter, or None when absent."""
        value = self.values.get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        raise bad_request(f'Bad Request: parameter "{name}" must be a string')

    def required_str(self, name: str) -> str:
        """Returns a string parameter that must be present."""
        value = self.str_(name)
        if value is None:
            raise bad_request(f'Bad Request: parameter "{name}" is required')
        return value

    def int_(self, name: str) -> int | None:
        """Returns an integer parameter, or None when absent."""
        value = self.values.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, bool):
            raise bad_request(f'Bad Request: parameter "{name}" must be a number')
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_request(f'Bad Request: parameter "{name}" must be a number') from None

    def required_int(self, name: str) -> int:
        """Returns an integer parameter that must be present."""
        value = self.int_(name)
        if value is None:
            raise bad_request(f"Bad Request: {name} is empty")
        return value

    def bool_(self, name: str, default: bool = False) -> bool:
        """Returns a boolean parameter (``true``/``false`` text accepted)."""
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise bad_request(f'Bad Request: parameter "{name}" must be a boolean')

    def json_(self, name: str) -> Any:
        """Returns a structured parameter, decoding it when it arrived as JSON text."""
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"Bad Request: can't parse {name} JSON object") from None

    def chat_id(self) -> int:
        """Returns ``chat_id``; ``@username`` chats do not exist in the emulator."""
        value = self.values.get("chat_id")
        if value is None or value == "":
            raise bad_request(CHAT_ID_EMPTY)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_request(CHAT_NOT_FOUND) from None

    def input_file(self, name: str) -> UploadedFile | str | None:
        """Returns an uploaded file, or the file_id / URL string given instead.

        Handles both of python-telegram-bot's shapes: a part named after the parameter,
        and an ``attach://<part>`` reference to another part.
        """
        if name in self.files:
            return self.files[name]
        value = self.str_(name)
        if value is not None and value.startswith("attach://"):
            part = self.files.get(value.removeprefix("attach://"))
            if part is None:
                raise bad_request(f"Bad Request: file {value} not found in the request")
            return part
        return value

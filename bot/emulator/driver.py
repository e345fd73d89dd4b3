"""``EmulatorDriver``: act as Telegram users against a running emulator, over HTTP.

Works the same whether the emulator runs in the test's process or in another one
(the sandbox, a benchmark). Every method returns plain JSON-shaped data.
"""

from __future__ import annotations

import base64
import dataclasses
from types import TracebackType
from typing import Any

import aiohttp

from bot.emulator.errors import DriverError
from bot.emulator.model import EmulatedUser, JSONDict

# Server-side waits time out first so their helpful message reaches the caller.
_WAIT_MARGIN = 10.0


class EmulatorDriver:
    """A client for the emulator's ``/_driver`` API.

    Args:
        url: The emulator's root URL (``RunningEmulator.url``); a ``.../bot`` base URL is
            accepted too.
        session: An aiohttp session to reuse; by default the driver opens its own.

    Use it as ``async with EmulatorDriver(running.url) as driver: ...``.
    """

    def __init__(self, url: str, *, session: aiohttp.ClientSession | None = None) -> None:
        self.url = url.rstrip("/").removesuffix("/bot")
        self._session = session
        self._owns_session = session is None

    async def __aenter__(self) -> EmulatorDriver:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the driver's own HTTP session."""
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session

    async def _call(self, action: str, wait: float = 0.0, **body: Any) -> Any:
        timeout = aiohttp.ClientTimeout(total=wait + _WAIT_MARGIN)
        url = f"{self.url}/_driver/{action}"
        async with self._http().post(url, json=body, timeout=timeout) as response:
            try:
                payload = await response.json(content_type=None)
            except ValueError:
                text = (await response.text())[:200]
                raise DriverError(f"{action}: HTTP {response.status}: {text}") from None
        if not isinstance(payload, dict):
            raise DriverError(f"{action}: unexpected answer {payload!r}")
        if payload.get("ok"):
            return payload.get("result")
        if payload.get("timeout"):
            raise TimeoutError(payload.get("error"))
        raise DriverError(payload.get("error") or f"driver action {action} failed")

    # ---------------------------------------------------------------- acting

    async def add_user(self, user: EmulatedUser) -> None:
        """Makes a user known, as if they had started the bot (no update is sent)."""
        await self._call("add_user", user=dataclasses.asdict(user))

    async def create_group(self, chat_id: int, title: str) -> JSONDict:
        """Creates a group chat (negative id) the bot is a member of."""
        result: JSONDict = await self._call("create_group", chat_id=chat_id, title=title)
        return result

    async def send_text(
        self, user: EmulatedUser, text: str, chat_id: int | None = None
    ) -> JSONDict:
        """The user sends text (to their private chat by default); returns the Update."""
        result: JSONDict = await self._call(
            "send_text", user=dataclasses.asdict(user), text=text, chat_id=chat_id
        )
        return result

    async def press(
        self,
        user: EmulatedUser,
        message_id: int,
        callback_data: str,
        chat_id: int | None = None,
        *,
        forge: bool = False,
    ) -> JSONDict:
        """The user presses an inline button; returns the Update (with the query id).

        Raises:
            DriverError: The message or button does not exist and ``forge`` is False.
        """
        result: JSONDict = await self._call(
            "press",
            user=dataclasses.asdict(user),
            message_id=message_id,
            callback_data=callback_data,
            chat_id=chat_id,
            forge=forge,
        )
        return result

    async def send_document(
        self,
        user: EmulatedUser,
        filename: str,
        content: bytes,
        mime_type: str | None = None,
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> JSONDict:
        """The user sends a file; returns the Update."""
        result: JSONDict = await self._call(
            "send_document",
            user=dataclasses.asdict(user),
            filename=filename,
            content=base64.b64encode(content).decode(),
            mime_type=mime_type,
            caption=caption,
            chat_id=chat_id,
        )
        return result

    async def send_photo(
        self,
        user: EmulatedUser,
        content: bytes,
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> JSONDict:
        """The user sends a photo; returns the Update."""
        result: JSONDict = await self._call(
            "send_photo",
            user=dataclasses.asdict(user),
            content=base64.b64encode(content).decode(),
            caption=caption,
            chat_id=chat_id,
        )
        return result

    async def send_raw_update(self, update: JSONDict) -> JSONDict:
        """Queues an update as given, e.g. a resent one to test duplicate update_ids."""
        result: JSONDict = await self._call("send_raw_update", update=update)
        return result

    async def block(self, user_id: int) -> None:
        """The user blocks the bot (sending to them answers 403)."""
        await self._call("block", user_id=user_id)

    async def unblock(self, user_id: int) -> None:
        """The user unblocks the bot."""
        await self._call("unblock", user_id=user_id)

    # --------------------------------------------------------------- reading

    async def messages(self, chat_id: int, *, include_user: bool = False) -> list[JSONDict]:
        """What the bot sent to a chat, in order, as it is now (after edits/deletes)."""
        result: list[JSONDict] = await self._call(
            "messages", chat_id=chat_id, include_user=include_user
        )
        return result

    async def wait_for_message(
        self,
        chat_id: int,
        *,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - the server does the waiting
        since_message_id: int | None = None,
    ) -> list[JSONDict]:
        """Waits for new bot messages; see ``BotApiEmulator.wait_for_message``.

        Raises:
            TimeoutError: Listing what the chat has and recent failed Bot API calls.
        """
        result: list[JSONDict] = await self._call(
            "wait_for_message",
            wait=timeout,
            chat_id=chat_id,
            count=count,
            timeout=timeout,
            since_message_id=since_message_id,
        )
        return result

    async def wait_for_call(
        self,
        method: str,
        timeout: float = 5.0,  # noqa: ASYNC109 - the server does the waiting
    ) -> JSONDict:
        """Waits for the next call of a Bot API method, from now on."""
        result: JSONDict = await self._call(
            "wait_for_call", wait=timeout, method=method, timeout=timeout
        )
        return result

    async def calls(self, method: str | None = None) -> list[JSONDict]:
        """Bot API calls received: ``{method, params, at, status, description}``."""
        result: list[JSONDict] = await self._call("calls", method=method)
        return result

    async def callback_answers(self, callback_query_id: str | None = None) -> list[JSONDict]:
        """The bot's answerCallbackQuery calls that succeeded."""
        result: list[JSONDict] = await self._call(
            "callback_answers", callback_query_id=callback_query_id
        )
        return result

    async def my_commands(
        self, scope: JSONDict | None = None, language_code: str = ""
    ) -> list[JSONDict]:
        """The command menu stored for exactly this scope and language."""
        result: list[JSONDict] = await self._call(
            "my_commands", scope=scope, language_code=language_code
        )
        return result

    async def effective_commands(
        self, chat_id: int, user_id: int | None = None, language_code: str | None = None
    ) -> list[JSONDict]:
        """The menu a user would see in a chat, after Telegram's scope fallback."""
        result: list[JSONDict] = await self._call(
            "effective_commands", chat_id=chat_id, user_id=user_id, language_code=language_code
        )
        return result

    async def chats(self) -> list[JSONDict]:
        """Every chat the emulator knows."""
        result: list[JSONDict] = await self._call("chats")
        return result

    async def file_bytes(self, file_id: str) -> bytes:
        """The content of a stored file (sent by a user or uploaded by the bot)."""
        async with self._http().get(f"{self.url}/_driver/files/{file_id}") as response:
            if response.status != 200:
                raise DriverError(f"no file {file_id!r}")
            return await response.read()

    # ------------------------------------------------------- faults and reset

    async def inject_fault(
        self,
        status: int,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        retry_after: int | None = None,
        description: str | None = None,
        times: int = 1,
        probability: float | None = None,
        seed: int | None = None,
    ) -> int:
        """Makes matching Bot API calls fail; returns the rule id.

        Args:
            status: 429, 403, 400 or 5xx.
            method: A method name, None for any sending method, ``"*"`` for all.
            chat_id: Only calls for this chat.
            retry_after: Seconds reported with a 429.
            description: Error text; Telegram's usual one by default.
            times: Number of calls that fail (when no probability is given).
            probability: Chance per matching call, applying until cleared.
            seed: Seed for the probability, for reproducible runs.
        """
        result: int = await self._call(
            "inject_fault",
            status=status,
            method=method,
            chat_id=chat_id,
            retry_after=retry_after,
            description=description,
            times=times,
            probability=probability,
            seed=seed,
        )
        return result

    async def clear_faults(self) -> None:
        """Removes every fault rule."""
        await self._call("clear_faults")

    async def reset(self) -> None:
        """Forgets all state in the emulator."""
        await self._call("reset")

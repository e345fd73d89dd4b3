"""The JSON log lines: one object a line, fields of the update, secrets taken out."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import configure_logging, secrets_of
from bot.metrics import CURRENT, UpdateRecord
from config.settings import Settings

TOKEN = "123456:a-token-for-the-unit-test"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    out = io.StringIO()
    try:
        yield out
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_secrets_are_the_token_and_the_database_password() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        token=TOKEN,  # type: ignore[arg-type]
        database_url="postgresql+asyncpg://bot:s3cr%40t@db.internal/workledger",
    )
    assert secrets_of(settings) == (TOKEN, "s3cr@t")
    assert secrets_of(Settings(_env_file=None)) == ()  # type: ignore[call-arg]


def test_a_line_carries_the_update_and_no_secret(stream: io.StringIO) -> None:
    configure_logging("INFO", secrets=(TOKEN, "hunter2"), log_format="json", stream=stream)
    record = UpdateRecord(update_id=77, user_id=501, text=f"my token is {TOKEN}")
    record.handler = "/start"
    token = CURRENT.set(record)
    try:
        logging.getLogger("workledger.test").info(
            "calling https://api.telegram.org/bot%s/getMe with hunter2", TOKEN
        )
        try:
            raise ValueError(f"bad {TOKEN}")
        except ValueError:
            logging.getLogger("workledger.test").exception("failed")
    finally:
        CURRENT.reset(token)
    logging.getLogger("workledger.test").warning("outside any update")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert all(TOKEN not in line and "hunter2" not in line for line in lines)
    first, second, third = (json.loads(line) for line in lines)
    assert first["message"] == "calling https://api.telegram.org/bot***/getMe with ***"
    assert (first["update_id"], first["user_id"], first["handler"]) == (77, 501, "/start")
    assert first["level"] == "INFO"
    assert first["logger"] == "workledger.test"
    assert "text" not in first
    assert "ValueError: bad ***" in second["exception"]
    assert third["level"] == "WARNING"
    assert "update_id" not in third


def test_text_is_only_logged_at_debug(stream: io.StringIO) -> None:
    for level in ("INFO", "DEBUG"):
        configure_logging(level, log_format="json", stream=stream)
        logging.getLogger("workledger.test").warning("sent", extra={"text": "hello"})
    info, debug = (json.loads(line) for line in stream.getvalue().splitlines())
    assert "text" not in info
    assert debug["text"] == "hello"


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="text or json"):
        configure_logging("INFO", log_format="xml")

"""Settings from the environment; secrets stay secret."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.logs import RedactSecrets
from config.settings import DEFAULT_DATABASE_URL, Settings

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("TOKEN", "DATABASE_URL", "API_URL", "POLICY", "TIMEZONE", "LANGUAGE"):
        monkeypatch.delenv(f"WORKLEDGER_{name}", raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    settings = Settings()
    assert settings.token is None
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.timezone == "Asia/Shanghai"
    assert settings.language == "zh_Hans"
    assert settings.is_sqlite


def test_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "WORKLEDGER_LANGUAGE=en\nWORKLEDGER_API_URL=http://127.0.0.1:8081/bot/\n"
    )
    monkeypatch.setenv("WORKLEDGER_TOKEN", TOKEN)
    settings = Settings()
    assert settings.language == "en"
    assert settings.api_url == "http://127.0.0.1:8081/bot"
    assert settings.file_url == "http://127.0.0.1:8081/file/bot"
    assert settings.token is not None
    assert settings.token.get_secret_value() == TOKEN


def test_token_never_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKLEDGER_TOKEN", TOKEN)
    settings = Settings()
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings)
    assert TOKEN not in settings.model_dump_json()


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.language = "en"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("WORKLEDGER_TIMEZONE", "Mars/Olympus", "unknown time zone"),
        ("WORKLEDGER_LANGUAGE", "fr", "must be one of"),
    ],
)
def test_bad_values_are_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, complaint: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=complaint):
        Settings()


def test_log_filter_redacts_the_token_in_messages_arguments_and_tracebacks() -> None:
    redact = RedactSecrets((TOKEN,))
    record = logging.LogRecord(
        "httpx", logging.INFO, __file__, 1, "POST %s", (f"https://x/bot{TOKEN}/getMe",), None
    )
    redact.filter(record)
    assert TOKEN not in record.getMessage()
    assert "***" in record.getMessage()
    try:
        raise RuntimeError(f"failed at /bot{TOKEN}/sendMessage")
    except RuntimeError as error:
        failing = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "boom", None, (type(error), error, None)
        )
    redact.filter(failing)
    assert failing.exc_text is not None
    assert TOKEN not in failing.exc_text


def test_log_filter_redacts_token_shaped_strings_it_was_not_told_about() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, f"seen {TOKEN}", None, None)
    RedactSecrets().filter(record)
    assert TOKEN not in record.getMessage()

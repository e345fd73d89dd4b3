"""Runtime settings, read once from the environment (and a ``.env`` file) at start-up."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SUPPORTED_LANGUAGES = ("en", "zh_Hans", "zh_Hant")
DEFAULT_LANGUAGE = "zh_Hans"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///workledger.db"
# What Telegram accepts as a webhook's secret_token.
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class Settings(BaseSettings):
    """The ``WORKLEDGER_*`` environment, validated and frozen.

    Built once by the entry point and passed down; never created at import.
    The token is a ``SecretStr`` so it cannot leak through ``repr`` or logs.
    """

    model_config = SettingsConfigDict(
        env_prefix="WORKLEDGER_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    token: SecretStr | None = None
    database_url: str = DEFAULT_DATABASE_URL
    api_url: str | None = None
    policy: Path | None = None
    timezone: str = "Asia/Shanghai"
    language: str = DEFAULT_LANGUAGE
    # Start the bot's clock at this moment (demos, black-box tests); unset: real time.
    clock_start: datetime | None = None
    # Signs citizens' rating codes and keys the hash their Telegram ids are stored as.
    # Never in the store: beside the hashes it would let anyone reverse them (Telegram
    # ids are few enough to try them all). Unset: citizens cannot rate (``run`` warns
    # when the policy weighs citizens).
    secret_key: SecretStr | None = None
    # Telegram sends it in X-Telegram-Bot-Api-Secret-Token with each webhook POST
    # (``run --webhook``, where it is required): a POST without it is refused.
    webhook_secret: SecretStr | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("language")
    @classmethod
    def _supported_language(cls, value: str) -> str:
        if value not in SUPPORTED_LANGUAGES:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_LANGUAGES)}")
        return value

    @field_validator("clock_start")
    @classmethod
    def _aware_clock_start(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("needs a time zone, e.g. 2026-11-30T17:29:00+08:00")
        return value

    @field_validator("secret_key")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("needs at least 32 characters, e.g. from: openssl rand -hex 32")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError("1-256 characters, each a letter, a digit, _ or -")
        return value

    @field_validator("api_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else None

    @property
    def zone(self) -> ZoneInfo:
        """The organisation's time zone, which decides what "today" means."""
        return ZoneInfo(self.timezone)

    @property
    def file_url(self) -> str | None:
        """The Bot API file base matching ``api_url`` (``.../bot`` -> ``.../file/bot``)."""
        if not self.api_url:
            return None
        root, _, tail = self.api_url.rpartition("/")
        return f"{root}/file/{tail}"

    @property
    def is_sqlite(self) -> bool:
        """Whether the store is SQLite (which the bot may migrate on its own)."""
        return self.database_url.startswith("sqlite")

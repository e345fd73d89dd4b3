"""Logging set-up that keeps secrets out of every log line."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.metrics import CURRENT
from config.settings import Settings

# A bot token as Telegram issues it: "<bot id>:<35 url-safe characters>".
_TOKEN_SHAPE = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")


class RedactSecrets(logging.Filter):
    """Replace known secrets and anything shaped like a bot token with ``***``."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secret for secret in secrets if secret)

    def clean(self, text: str) -> str:
        """``text`` with every secret and token-shaped string replaced."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return _TOKEN_SHAPE.sub("***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, redact it, and drop the arguments it came from."""
        message = record.getMessage()
        cleaned = self.clean(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.clean(logging.Formatter().formatException(record.exc_info))
        return True


def secrets_of(settings: Settings) -> tuple[str, ...]:
    """What must never be logged: the bot's token, the key of citizens' codes, the
    webhook's secret and the database URL's password."""
    secrets = [] if settings.token is None else [settings.token.get_secret_value()]
    if settings.secret_key is not None:
        secrets.append(settings.secret_key.get_secret_value())
    if settings.webhook_secret is not None:
        secrets.append(settings.webhook_secret.get_secret_value())
    try:
        password = make_url(settings.database_url).password
    except ArgumentError:
        password = None
    if password:
        secrets.append(str(password))
    return tuple(secrets)


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and what is known of the
    update being handled (``bot.metrics.CURRENT``): update id, user id, handler and, on
    its closing line, its latency. ``text`` (what the person sent) is only there when
    the bot logs at DEBUG. Every string is redacted as the message is."""

    def __init__(self, redact: RedactSecrets) -> None:
        super().__init__()
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        fields: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = CURRENT.get()
        if current is not None:
            fields["update_id"] = current.update_id
            fields["user_id"] = current.user_id
            fields["handler"] = current.handler
        for name in ("update_id", "user_id", "handler", "latency_ms", "text"):
            if name in record.__dict__:
                fields[name] = record.__dict__[name]
        if "text" in fields and not logging.getLogger().isEnabledFor(logging.DEBUG):
            del fields["text"]
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            fields["exception"] = record.exc_text
        cleaned = {
            key: self._redact.clean(value) if isinstance(value, str) else value
            for key, value in fields.items()
        }
        return json.dumps(cleaned, ensure_ascii=False, default=str)


LOG_FORMATS = ("text", "json")


def configure_logging(
    level: str = "INFO",
    secrets: tuple[str, ...] = (),
    *,
    log_format: str = "text",
    stream: TextIO | None = None,
) -> None:
    """Log to ``stream`` (stderr) through a redacting handler, as text or JSON lines.

    httpx logs every request URL at INFO, and Bot API URLs contain the token,
    so it is turned down as well as filtered.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"the log format is text or json, not {log_format!r}")
    handler = logging.StreamHandler(stream)
    redact = RedactSecrets(secrets)
    if log_format == "json":
        handler.setFormatter(JsonLines(redact))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redact)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)

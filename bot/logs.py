"""Logging set-up that keeps secrets out of every log line."""

from __future__ import annotations

import logging
import re

# A bot token as Telegram issues it: "<bot id>:<35 url-safe characters>".
_TOKEN_SHAPE = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")


class RedactSecrets(logging.Filter):
    """Replace known secrets and anything shaped like a bot token with ``***``."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secret for secret in secrets if secret)

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return _TOKEN_SHAPE.sub("***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, redact it, and drop the arguments it came from."""
        message = record.getMessage()
        cleaned = self._clean(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self._clean(logging.Formatter().formatException(record.exc_info))
        return True


def configure_logging(level: str = "INFO", secrets: tuple[str, ...] = ()) -> None:
    """Log to stderr through a redacting handler.

    httpx logs every request URL at INFO, and Bot API URLs contain the token,
    so it is turned down as well as filtered.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)

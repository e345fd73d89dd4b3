"""/export (HR): a period's ledgers and exports as XLSX or CSV documents in the chat.

``/export [YYYY-MM]`` (by default the last period that has ended) offers each kind of
export in both formats; a press builds the file in a worker process of its own
(``assessment.export_worker``: ``assessment.exports``' batches read from the store and
the file written there, never on the bot's event loop) while one message shows how far
it got, then sends it as a document. An export whose worker died or hung says so, and
nothing is sent. Only HR: the gate checks the role on the command and on
every press (``ExportRun.requires``), and it answers only in private chats, so personal
data never reaches a group. Supervisors have their people's entries in /review and
/pending; the organisation's ledgers stay with HR.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.error import BadRequest

from assessment import periods
from assessment.export_worker import ExportError
from assessment.exports import SOURCES, UNDATED, ExportRequest, ExportResult
from handlers.callbacks import ExportRun
from handlers.context import WorkledgerContext
from handlers.export_labels import sheet_words, title_of

log = logging.getLogger(__name__)

# Telegram's limit for a document a bot sends.
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
# The progress message is edited at most this often (seconds), well under Telegram's limits.
PROGRESS_EVERY = 2.0


def _menu(context: WorkledgerContext, key: str) -> tuple[str, InlineKeyboardMarkup]:
    _ = context._
    rows = []
    for kind in SOURCES:
        title = title_of(kind, context.translator)
        rows.append(
            [
                InlineKeyboardButton(
                    f"{title} · {fmt.upper()}", callback_data=ExportRun(kind, key, fmt).pack()
                )
                for fmt in ("xlsx", "csv")
            ]
        )
    text = _("Exports of {period}: choose what, and the format.").format(period=key)
    return text, InlineKeyboardMarkup(rows)


async def export_command(update: Update, context: WorkledgerContext) -> None:
    """/export [YYYY-MM]: offer the period's exports (by default the last period ended)."""
    message = update.effective_message
    assert message is not None
    if context.args:
        period = periods.parse_key(context.args[0], context.policy)
        if period is None:
            await message.reply_text(
                context._("To export a period's ledgers: /export [YYYY-MM]. Without it, the "
                          "last period that has ended.")
            )  # fmt: skip
            return
    else:
        current = periods.period_of(context.today(), context.policy)
        period = periods.period_of(current.starts_on - timedelta(days=1), context.policy)
    text, markup = _menu(context, period.key)
    await message.reply_text(text, reply_markup=markup)


async def run_export(update: Update, context: WorkledgerContext) -> None:
    """Build the chosen export with a progress message, then send it as a document."""
    query = update.callback_query
    chat = update.effective_chat
    assert query is not None and chat is not None
    action = ExportRun.from_press(query.data)
    _ = context._
    period = periods.parse_key(action.period, context.policy)
    if period is None:
        await query.answer(_("This period is not one of the policy's."), show_alert=True)
        return
    await query.answer()
    zone = context.settings.zone
    words = sheet_words(action.kind, context.translator, context.policy, zone.key)
    request = ExportRequest(action.kind, period, zone, fmt=action.fmt)
    # The career records are whatever the period: neither the file nor its words name it.
    undated = action.kind in UNDATED
    last_edit = time.monotonic()

    async def say(text: str) -> None:
        try:
            await query.edit_message_text(text)
        except BadRequest as error:
            if "not modified" not in str(error).lower():
                raise

    async def progress(done: int, total: int) -> None:
        nonlocal last_edit
        if time.monotonic() - last_edit < PROGRESS_EVERY:
            return
        last_edit = time.monotonic()
        text = (
            _("Building “{title}”: {done} of {total} rows…")
            if undated
            else _("Building “{title}” of {period}: {done} of {total} rows…")
        )
        await say(text.format(title=words.title, period=period.key, done=done, total=total))

    text = _("Building “{title}”…") if undated else _("Building “{title}” of {period}…")
    await say(text.format(title=words.title, period=period.key))
    name = f"{action.kind}.{action.fmt}" if undated else f"{action.kind}-{period.key}.{action.fmt}"
    result: ExportResult | None = None
    with tempfile.TemporaryDirectory(prefix="workledger-export-") as folder:
        path = Path(folder) / name
        try:
            result = await context.bot_data.exports.export(
                context.bot_data.database, context.policy, request, words, path,
                progress=progress,
            )  # fmt: skip
        except ExportError:
            log.exception("the export %s of %s was not built", action.kind, period.key)
        else:
            content = await asyncio.to_thread(_read_small, path)
    if result is None:
        # Said once the folder, with whatever the worker had written, is gone.
        failed = (
            _("“{title}” could not be built: the export stopped before it was finished, "
              "and nothing was sent. Send /export to try again.")
            if undated
            else _("“{title}” of {period} could not be built: the export stopped before it "
                   "was finished, and nothing was sent. Send /export {period} to try again.")
        )  # fmt: skip
        await say(failed.format(title=words.title, period=period.key))
        return
    if content is None:
        await say(
            _("“{title}” of {period} is over Telegram's 50 MB for a document: on the "
              "server, run: workledger export --period {period} --what {kind}").format(
                title=words.title, period=period.key, kind=action.kind
            )
        )  # fmt: skip
        return
    if undated:
        caption = context.ngettext(
            "“{title}”: {count} row", "“{title}”: {count} rows", result.rows
        ).format(title=words.title, count=result.rows)
    else:
        caption = context.ngettext(
            "“{title}” of {period}: {count} row", "“{title}” of {period}: {count} rows",
            result.rows,
        ).format(title=words.title, period=period.key, count=result.rows)  # fmt: skip
    await context.bot.send_document(chat.id, InputFile(content, filename=name), caption=caption)
    await say(caption)


def _read_small(path: Path) -> bytes | None:
    """The file's bytes, or None when it is too big to send."""
    if path.stat().st_size > MAX_DOCUMENT_BYTES:
        return None
    return path.read_bytes()

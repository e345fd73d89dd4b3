"""Invitation links as QR codes: one PNG for a chat, a printable sheet for a department."""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Sequence
from datetime import datetime

import segno

from assessment.invitations import IssuedInvitation, deep_link


def qr_png(link: str) -> bytes:
    """A QR code of ``link`` as PNG bytes, large enough to scan from a phone screen."""
    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind="png", scale=8, border=3)
    return buffer.getvalue()


def sheet(
    title: str,
    invitations: Sequence[IssuedInvitation],
    bot_username: str,
    *,
    valid_until: Callable[[datetime], str],
    instructions: str,
) -> bytes:
    """A printable HTML page with one card (name, QR code, link) per person."""
    cards = []
    for invitation in invitations:
        link = deep_link(bot_username, invitation.code)
        svg = segno.make(link, error="m").svg_inline(scale=4, border=2)
        cards.append(
            '<div class="card">'
            f"<h2>{html.escape(invitation.name)}</h2>"
            f"<p>{html.escape(invitation.employee_no)}</p>{svg}"
            f'<p class="link">{html.escape(link)}</p>'
            f"<p>{html.escape(valid_until(invitation.expires_at))}</p>"
            "</div>"
        )
    page = (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif}"
        ".card{display:inline-block;width:45%;margin:1%;padding:8px;border:1px dashed #999;"
        "page-break-inside:avoid;text-align:center}"
        ".link{font-size:9px;word-break:break-all}"
        "</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(instructions)}</p>"
        f"{''.join(cards)}</body></html>"
    )
    return page.encode("utf-8")

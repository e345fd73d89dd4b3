"""Citizens' "one matter, one rating" (一事一评): codes, stars, comments and flags.

A staff member at a service window shows a citizen a QR code for the matter just
served (single use, expiring per ``[citizens]``), or a printable code of their
window (reusable, one rating per citizen account per person per day). The link
carries only a code id and its HMAC signature; the citizen's Telegram id is stored
only as a keyed hash. Both keys derive from ``WORKLEDGER_SECRET_KEY``, never from
anything in the store: with the key beside the hashes, the few billion Telegram ids
could simply all be tried.

A citizen's stars are one ``service_recipient`` rating of every qualitative
indicator of the person's post type (the scale is ``[monthly_check] rating_max``),
so they count exactly as the score's formula weighs citizens. A suspicious rating
(see ``Flag``) is stored but written into the score only when HR confirms it.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from assessment.outbox import Outgoing, enqueue
from assessment.people import StaffMember
from assessment.periods import ensure_period, period_of
from assessment.review import rated_indicators
from config.policy import CitizenRules, Policy
from storage.enums import Role
from storage.repositories.audit import Event
from storage.repositories.citizens import CitizenRatingRow, CitizenSummary
from storage.uow import UnitOfWork

__all__ = [
    "MATTER",
    "PREFIX",
    "WINDOW",
    "CitizenKeys",
    "CitizenSummary",
    "Flag",
    "Issued",
    "Outcome",
    "Rated",
    "citizen_indicators",
    "code_of",
    "comment",
    "decide",
    "flagged",
    "flags_for",
    "is_citizen_rated",
    "issue",
    "open_code",
    "payload",
    "rate",
    "summary",
    "weighs_citizens",
]

PREFIX = "c_"
MATTER = "matter"
WINDOW = "window"
# A code id and 16 bytes of signature: 29 characters with the prefix, never the 32 of
# an invitation code, so the two kinds of /start payload cannot be mistaken.
_ID_BYTES = 4
_MAC_BYTES = 16
# A press's signature binds the code to the account that opened it (6 bytes, 8 chars).
_PRESS_BYTES = 6
MAX_COMMENT = 1000
# HR is told that flagged ratings wait at most once a day each (a burst is one message).
FLAGS_KIND = "citizen_flags"
# The comments the rated person is shown.
SHOWN_COMMENTS = 5


class Flag(enum.StrEnum):
    """Why a citizen's rating waits for HR before it counts."""

    BURST = "burst"  # more ratings for one person in burst_minutes than burst_max
    REPEAT = "repeat"  # the same citizen account rated the same person this period
    STAFF_ACCOUNT = "staff"  # the account is linked to a staff record
    FAR_FROM_ISSUE = "late"  # a matter's code used long after it was shown


class Outcome(enum.StrEnum):
    """What became of opening a code or pressing a star."""

    OK = "ok"
    INVALID = "invalid"  # no such code, a bad signature, or not citizen-rated any more
    USED = "used"
    EXPIRED = "expired"
    REPLACED = "replaced"  # a window code a newer one replaced
    LIMIT = "limit"  # this account's ratings of the person through the window today
    NOT_RATED = "not_rated"  # the person's post type does not weigh citizens


@dataclass(frozen=True, slots=True)
class CitizenKeys:
    """The two keys derived from the secret: one signs codes, one hashes Telegram ids."""

    codes: bytes
    accounts: bytes

    @classmethod
    def of(cls, secret: str) -> CitizenKeys:
        """Derive both keys from ``WORKLEDGER_SECRET_KEY``."""
        root = secret.encode()
        return cls(
            codes=hmac.new(root, b"workledger citizen codes", hashlib.sha256).digest(),
            accounts=hmac.new(root, b"workledger citizen accounts", hashlib.sha256).digest(),
        )

    def account_hash(self, telegram_user_id: int) -> str:
        """The keyed hash a citizen's Telegram id is stored as (64 hex digits)."""
        return hmac.new(self.accounts, str(telegram_user_id).encode(), hashlib.sha256).hexdigest()

    def press_mac(self, code_id: int, telegram_user_id: int) -> str:
        """The signature on a star button: this code, for this account only."""
        message = f"press:{code_id}:{telegram_user_id}".encode()
        digest = hmac.new(self.codes, message, hashlib.sha256).digest()[:_PRESS_BYTES]
        return base64.urlsafe_b64encode(digest).decode()

    def code_mac(self, code_id: int) -> bytes:
        message = b"code:" + code_id.to_bytes(_ID_BYTES, "big")
        return hmac.new(self.codes, message, hashlib.sha256).digest()[:_MAC_BYTES]


def payload(code_id: int, keys: CitizenKeys) -> str:
    """The ``/start`` payload of a code: ``c_`` and the signed id, url-safe."""
    raw = code_id.to_bytes(_ID_BYTES, "big") + keys.code_mac(code_id)
    return PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def code_of(text: str, keys: CitizenKeys) -> int | None:
    """The code id a ``/start`` payload signs, or None if it is not a genuine code."""
    if not text.startswith(PREFIX) or len(text) != len(payload(0, keys)):
        return None
    body = text[len(PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError:
        return None
    code_id = int.from_bytes(raw[:_ID_BYTES], "big")
    if len(raw) != _ID_BYTES + _MAC_BYTES or not hmac.compare_digest(
        raw[_ID_BYTES:], keys.code_mac(code_id)
    ):
        return None
    return code_id


def citizen_indicators(policy: Policy, post_type: str | None) -> list[str]:
    """The indicators a citizen's stars rate for ``post_type`` (none: not citizen-rated)."""
    return [i.id for i in rated_indicators(policy, post_type, "service_recipient")]


def is_citizen_rated(policy: Policy, post_type: str | None) -> bool:
    """Whether citizens rate people of ``post_type`` (the policy weighs them above 0)."""
    return bool(citizen_indicators(policy, post_type))


def weighs_citizens(policy: Policy) -> bool:
    """Whether citizens rate anyone under ``policy`` (then a secret key is needed)."""
    return any(is_citizen_rated(policy, post_type) for post_type in policy.post_types)


def flags_for(
    rules: CitizenRules,
    *,
    kind: str,
    issued_at: datetime,
    now: datetime,
    recent_for_person: int,
    rated_before: bool,
    staff_account: bool,
) -> tuple[Flag, ...]:
    """The flag rules a new rating breaks, given what the store says about it.

    ``recent_for_person``: the person's ratings in the last ``burst_minutes`` before this
    one; ``rated_before``: this account rated the person before in the period.
    """
    flags: list[Flag] = []
    if recent_for_person >= rules.burst_max:
        flags.append(Flag.BURST)
    if rated_before:
        flags.append(Flag.REPEAT)
    if staff_account:
        flags.append(Flag.STAFF_ACCOUNT)
    if kind == MATTER and now - issued_at > timedelta(minutes=rules.far_from_issue_minutes):
        flags.append(Flag.FAR_FROM_ISSUE)
    return tuple(flags)


@dataclass(frozen=True, slots=True)
class Issued:
    """A code just issued: its id, kind and (a matter's) end of validity."""

    code_id: int
    kind: str
    expires_at: datetime | None


async def issue(
    uow: UnitOfWork, member: StaffMember, kind: str, policy: Policy, *, now: datetime
) -> Issued | Outcome:
    """Issue a matter's code or a new window code for ``member``, audited, and commit."""
    if not is_citizen_rated(policy, await uow.entries.post_type_of(member.id)):
        return Outcome.NOT_RATED
    expires_at = now + timedelta(minutes=policy.citizens.code_minutes) if kind == MATTER else None
    code_id = await uow.citizens.add_code(member.id, kind, now=now, expires_at=expires_at)
    await uow.audit.add(
        Event(
            "citizen_code.issued",
            "citizen_code",
            code_id,
            now,
            actor_staff_id=member.id,
            details={"kind": kind, "staff_id": member.id},
        )
    )
    await uow.commit()
    return Issued(code_id, kind, expires_at)


@dataclass(frozen=True, slots=True)
class Opened:
    """A code a citizen may rate through: whose it is."""

    code_id: int
    staff_name: str


async def open_code(
    uow: UnitOfWork, code_id: int, policy: Policy, *, now: datetime
) -> Opened | Outcome:
    """Whether a citizen may rate through this code now, and for whom (the code, its
    person and their post type read in one statement)."""
    code = await uow.citizens.opening(code_id)
    if code is None:
        return Outcome.INVALID
    refusal = _unusable(code.kind, code.used_at, code.expires_at, code.revoked_at, now)
    if refusal is not None:
        return refusal
    if not is_citizen_rated(policy, code.post_type):
        return Outcome.INVALID
    return Opened(code_id, code.staff_name)


def _unusable(
    kind: str,
    used_at: datetime | None,
    expires_at: datetime | None,
    revoked_at: datetime | None,
    now: datetime,
) -> Outcome | None:
    if kind == MATTER:
        if used_at is not None:
            return Outcome.USED
        if expires_at is None or now >= expires_at:
            return Outcome.EXPIRED
        return None
    return Outcome.REPLACED if revoked_at is not None else None


@dataclass(frozen=True, slots=True)
class Rated:
    """A rating just stored: its id and the flags that hold it back (none: counted)."""

    rating_id: int
    flags: tuple[Flag, ...]


async def rate(
    uow: UnitOfWork,
    code_id: int,
    stars: int,
    telegram_user_id: int,
    keys: CitizenKeys,
    policy: Policy,
    *,
    zone: tzinfo,
    now: datetime,
    tell_hr: Callable[[str | None, str | None], str] | None = None,
) -> Rated | Outcome:
    """Store a citizen's stars through a code, flagged or counted, audited, and commit.

    Everything is read again from the store, in one statement: the code's state, the
    person's post type, the person's recent ratings, whether HR was told of a flag today
    already. A matter's code is marked used in
    the same transaction, by a conditional update, so two presses never both rate.
    A rating given while another of the same person is being stored (milliseconds
    apart: no window serves two citizens so fast) is a burst too; it does not wait. A flagged
    rating queues HR a message (``tell_hr`` renders it from a person's chosen and
    Telegram language), once a day per HR member whatever the number of flags.
    """
    if stars not in range(1, policy.monthly_check.rating_max + 1):
        return Outcome.INVALID
    account = keys.account_hash(telegram_user_id)
    day = now.astimezone(zone).date()
    period = period_of(day, policy)
    rules = policy.citizens
    alone = await uow.citizens.hold_person(code_id)
    code = await uow.citizens.facts(
        code_id,
        citizen_hash=account,
        telegram_user_id=telegram_user_id,
        period_key=period.key,
        day=day,
        since=now - timedelta(minutes=rules.burst_minutes),
    )
    if code is None:
        return Outcome.INVALID
    refusal = _unusable(code.kind, code.used_at, code.expires_at, code.revoked_at, now)
    if refusal is not None:
        return refusal
    indicators = citizen_indicators(policy, code.post_type)
    if not indicators:
        return Outcome.INVALID
    if code.kind == MATTER:
        if not await uow.citizens.use(code_id, now=now):
            return Outcome.USED
    elif code.window_today >= rules.window_code_daily_limit:
        return Outcome.LIMIT
    period_id = code.period_id or await ensure_period(uow, period, now=now)
    flags = flags_for(
        rules,
        kind=code.kind,
        issued_at=code.issued_at,
        now=now,
        recent_for_person=code.recent if alone else max(code.recent, rules.burst_max),
        rated_before=code.rated_before,
        staff_account=code.staff_account,
    )
    rating_id = await uow.citizens.add(
        code_id=code_id,
        staff_id=code.staff_id,
        period_id=period_id,
        day=day,
        citizen_hash=account,
        stars=stars,
        flags=",".join(flags),
        status="flagged" if flags else "counted",
        now=now,
    )
    if not flags:
        await uow.citizens.count(rating_id, period_id, code.staff_id, indicators, stars)
    elif tell_hr is not None and not code.flagged_today:
        # The day's first flag: HR's roles are looked up once a day, not once a flag.
        await enqueue(
            uow,
            [
                Outgoing(
                    chat_id=hr.telegram_user_id,
                    kind=FLAGS_KIND,
                    text=tell_hr(hr.language, hr.telegram_language),
                    staff_id=hr.id,
                    dedup_key=f"{FLAGS_KIND}/{day.isoformat()}/{hr.id}",
                )
                for hr in await uow.staff.on_staff_holding(Role.HR)
                if hr.telegram_user_id is not None
            ],
            now=now,
        )
    # Who rated is never in the log either: the rating, the person, the stars, the flags.
    await uow.audit.add(
        Event(
            "citizen_rating.given",
            "citizen_rating",
            rating_id,
            now,
            details={
                "staff_id": code.staff_id,
                "code_id": code_id,
                "stars": stars,
                "flags": list(flags),
            },
        )
    )
    await uow.commit()
    return Rated(rating_id, flags)


async def awaiting_comment(
    uow: UnitOfWork, telegram_user_id: int, keys: CitizenKeys, policy: Policy, *, now: datetime
) -> int | None:
    """The rating this account's next message comments on, if any."""
    since = now - timedelta(minutes=policy.citizens.code_minutes)
    return await uow.citizens.awaiting_comment(keys.account_hash(telegram_user_id), since=since)


async def comment(
    uow: UnitOfWork,
    telegram_user_id: int,
    text: str,
    keys: CitizenKeys,
    policy: Policy,
    *,
    now: datetime,
) -> bool:
    """Keep a citizen's comment on the rating they just gave, and commit; False if none
    waits for one (or the text is empty)."""
    text = text.strip()[:MAX_COMMENT]
    rating_id = await awaiting_comment(uow, telegram_user_id, keys, policy, now=now)
    if rating_id is None or not text or not await uow.citizens.comment(rating_id, text):
        return False
    await uow.audit.add(
        Event("citizen_rating.commented", "citizen_rating", rating_id, now, details={})
    )
    await uow.commit()
    return True


async def flagged(uow: UnitOfWork, limit: int) -> tuple[list[CitizenRatingRow], int]:
    """The oldest flagged ratings for HR, and how many wait."""
    return await uow.citizens.flagged(limit)


async def decide(
    uow: UnitOfWork,
    hr: StaffMember,
    rating_id: int,
    confirm: bool,
    policy: Policy,
    *,
    now: datetime,
) -> CitizenRatingRow | None:
    """Confirm (count) or discard a flagged rating, audited, and commit; None if it was
    not waiting for HR (decided meanwhile, or no such rating)."""
    status = "confirmed" if confirm else "discarded"
    if not await uow.citizens.decide(rating_id, status, by_id=hr.id, now=now):
        return None
    row = await uow.citizens.get(rating_id)
    assert row is not None
    if confirm:
        indicators = citizen_indicators(policy, await uow.entries.post_type_of(row.staff_id))
        await uow.citizens.count(rating_id, row.period_id, row.staff_id, indicators, row.stars)
    await uow.audit.add(
        Event(
            f"citizen_rating.{status}",
            "citizen_rating",
            rating_id,
            now,
            actor_staff_id=hr.id,
            details={"staff_id": row.staff_id, "flags": row.flags.split(",")},
        )
    )
    await uow.commit()
    return row


async def summary(
    uow: UnitOfWork, member: StaffMember, policy: Policy, *, zone: tzinfo, now: datetime
) -> tuple[CitizenSummary, list[str]]:
    """``member``'s counted citizen ratings of the current period, and the latest comments
    (never who gave them)."""
    period_id = await ensure_period(uow, period_of(now.astimezone(zone).date(), policy), now=now)
    found = await uow.citizens.summary(member.id, period_id)
    comments = await uow.citizens.comments(member.id, period_id, SHOWN_COMMENTS)
    await uow.commit()
    return found, comments

"""Groups of people a big job writes for, as a condition on ``staff`` the database applies."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_

from storage.models import Staff
from storage.repositories.admission import admitted


@dataclass(frozen=True, slots=True)
class Languages:
    """What decides the language of a person's messages: their own choice, then Telegram's."""

    language: str | None
    telegram_language: str | None


@dataclass(frozen=True, slots=True)
class Selection:
    """Linked people matching ``where`` (a condition on ``Staff``), built by a repository.

    The domain passes it back to the store unopened: it says who, the store finds them.
    """

    where: ColumnElement[bool]

    def within(self, after: int, through: int) -> ColumnElement[bool]:
        """The condition for the people of staff ids ``after`` < id <= ``through``."""
        # The id range first: the primary key bounds the scan of every statement.
        return and_(Staff.id > after, Staff.id <= through, admitted(Staff), self.where)

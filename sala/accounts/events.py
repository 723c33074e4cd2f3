"""What writes to members announce after they commit (sala.core.events)."""

from dataclasses import dataclass

from sala.core.events import DomainEvent


@dataclass(frozen=True, slots=True)
class MemberChanged(DomainEvent):
    """A member's row was saved or deleted: their name, password, avatar, activity..."""

    member_id: int

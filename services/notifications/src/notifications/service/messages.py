"""Use cases of the people notified: their messages (an applicant sees only their own,
staff see a case's and their group's) and their channel preferences."""

from __future__ import annotations

from collections.abc import Callable

from notifications.domain import Contact, Message, NotFound, Target
from notifications.ports import Repositories
from servicekit.clock import Clock
from servicekit.ports import Tx, UnitOfWork
from servicekit.principal import Principal

APPLICANT = "applicant"


def owner(who: Principal) -> str | None:
    """Applicants see only what is theirs: the id to filter on, or None for staff."""
    return who.sub if who.role == APPLICANT else None


def inboxes(who: Principal) -> list[str]:
    """Recipient ids whose messages a person reads: their own and their group's."""
    ids = [who.sub]
    if who.role == "reviewer" and who.department:
        ids.append(Target.reviewers(who.department).group_id)
    if who.role == "supervisor":
        ids.append(Target.supervisors().group_id)
    return ids


def _nothing() -> None:
    return None


class Messages:
    def __init__(self, *, uow: UnitOfWork[Repositories], clock: Clock, on_change: Callable[[], None] = _nothing) -> None:
        """``on_change()`` is called after each write of someone's preferences (it drops what
        the consumer kept)."""
        self.uow, self.clock, self.on_change = uow, clock, on_change

    async def for_case(self, who: Principal, case_number: str) -> list[Message]:
        found = await self.uow.read(lambda repos: repos.messages.for_case(case_number))
        return [m for m in found if owner(who) in (None, m.recipient_id)]

    async def mine(self, who: Principal, limit: int = 100) -> list[Message]:
        ids = inboxes(who)
        return await self.uow.read(lambda repos: repos.messages.for_recipients(ids, limit))

    async def one(self, who: Principal, message_id: str) -> Message:
        message = await self.uow.read(lambda repos: repos.messages.get(message_id))
        if message is None or owner(who) not in (None, message.recipient_id):
            raise NotFound(f"no message {message_id}")
        return message

    async def preferences(self, who: Principal) -> Contact:
        return await self.uow.read(lambda repos: repos.contacts.get(who.sub)) or Contact(who.sub)

    async def set_preferences(self, who: Principal, *, channels: list[str], phone: str | None, email: str | None,
                              wechat_openid: str | None, quiet_hours: str | None) -> Contact:
        """Replace the caller's preferences; staff register their role and department with them."""
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> Contact:
            contact = await tx.repos.contacts.get(who.sub) or Contact(who.sub)
            contact.set_preferences(channels=channels, phone=phone, email=email, wechat_openid=wechat_openid,
                                    quiet_hours=quiet_hours, role=who.role, department=who.department, now=now)
            await tx.repos.contacts.save(contact)
            return contact

        try:
            return await self.uow.run(work)
        finally:
            self.on_change()

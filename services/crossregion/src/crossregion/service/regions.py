"""Use cases: the partner-region registry, managed by operators."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from crossregion.domain import DomainError, InvalidState, NotAllowed, NotFound, PartnerRegion
from crossregion.ports import Repositories
from servicekit.clock import Clock
from servicekit.ports import Tx, UnitOfWork
from servicekit.principal import Principal, Role


def _operator(caller: Principal) -> None:
    if caller.role is not Role.OPERATOR:
        raise NotAllowed("operators manage partner regions")


UrlCheck = Callable[[str], str | None]


class Regions:
    def __init__(self, *, uow: UnitOfWork[Repositories], clock: Clock, check_url: UrlCheck,
                 our_keys: dict[str, str]) -> None:
        """``check_url(url)``: why the outbound policy refuses a partner's endpoint, or None."""
        self.uow, self.clock, self.check_url, self.our_keys = uow, clock, check_url, our_keys

    def _endpoint(self, url: str) -> None:
        if (why := self.check_url(url)) is not None:
            raise DomainError(why, field="endpoint", rule="outbound_policy")

    def _our_key(self, key_id: str) -> str:
        if key_id and key_id not in self.our_keys:
            raise NotFound(f"{key_id!r} is not one of our keys ({', '.join(self.our_keys)})", field="our_key_id")
        return key_id

    async def register(self, caller: Principal, *, division_code: str, name: str, endpoint: str, key_id: str,
                       public_key: str, matters: list[str], modes: list[str], our_key_id: str = "") -> PartnerRegion:
        """Register a partner region, or update it (its key: rotate it instead)."""
        _operator(caller)
        self._endpoint(endpoint)
        self._our_key(our_key_id)
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> PartnerRegion:
            region = await tx.repos.regions.find(division_code)
            if region is None:
                holder = await tx.repos.regions.by_key_id(key_id)
                if holder is not None:
                    raise InvalidState(f"key id {key_id!r} belongs to {holder.division_code}", field="key_id")
                region = PartnerRegion.register(division_code=division_code, name=name, endpoint=endpoint,
                                                key_id=key_id, public_key=public_key, matters=matters, modes=modes,
                                                our_key_id=our_key_id, now=now)
            else:
                if not any(k.key_id == key_id and k.public_key == public_key for k in region.keys):
                    raise InvalidState(f"{division_code} has other keys: rotate them (POST /regions/"
                                      f"{division_code}/keys), the previous one stays valid for the overlap",
                                      field="public_key")
                region.update(name=name, endpoint=endpoint, matters=matters, modes=modes, our_key_id=our_key_id)
            await tx.repos.regions.save(region)
            return region

        return await self.uow.run(work)

    async def rotate(self, caller: Principal, division_code: str, *, key_id: str, public_key: str,
                     overlap_until: datetime) -> PartnerRegion:
        _operator(caller)
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> PartnerRegion:
            region = await tx.repos.regions.get(division_code)
            holder = await tx.repos.regions.by_key_id(key_id)
            if holder is not None and holder.division_code != division_code:
                raise InvalidState(f"key id {key_id!r} belongs to {holder.division_code}", field="key_id")
            if region.rotate(key_id=key_id, public_key=public_key, overlap_until=overlap_until, now=now):
                await tx.repos.regions.save(region)
            return region

        return await self.uow.run(work)

    async def list(self, caller: Principal) -> list[PartnerRegion]:
        return await self.uow.read(lambda repos: repos.regions.list())

    async def get(self, caller: Principal, division_code: str) -> PartnerRegion:
        return await self.uow.read(lambda repos: repos.regions.get(division_code))


"""The verification command, for an oversight body that trusts no one's server: recompute the
tamper-evident log straight from the database and compare every stored card with it.

    python -m ratings.verify [--mongodb-uri URI] [--database NAME]

Prints the result as JSON; exit status 0 if the log and the cards verify, 1 if not (the
broken record and the cards that differ are named)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from pymongo import AsyncMongoClient

from ratings.config import Settings
from ratings.repository import MongoRepositories
from ratings.schemas import VerificationOut
from ratings.service import Cards
from servicekit.config import load
from servicekit.mongo import make_client
from servicekit.uow import MongoUnitOfWork


async def verify(uri: str, database: str) -> dict[str, Any]:
    client: AsyncMongoClient[Any] = make_client(uri)
    try:
        settings = load(Settings)
        uow = MongoUnitOfWork(MongoRepositories.bind, client=client, db=client[database])
        check = await Cards(uow=uow, clock=_NoClock(), rules=settings.ranking()).verify()
        return VerificationOut.of(check).model_dump()
    finally:
        await client.close()


class _NoClock:
    def now(self) -> Any:  # verification needs no time
        raise RuntimeError("not used")


def main(argv: list[str] | None = None) -> int:
    settings = load(Settings)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mongodb-uri", default=settings.mongodb_uri)
    p.add_argument("--database", default=settings.database_name)
    args = p.parse_args(argv)
    result = asyncio.run(verify(args.mongodb_uri, args.database))
    print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""The one storage interface of the profile service, and the choice between its two engines.

SQLite (`db_path`) is the embedded default: one file, one process (the demo, the unit tests).
PostgreSQL (`database_url`, a `postgresql://` URL) is for a chain: several stateless workers,
any number of processes, coordinating only through the database.
"""

from __future__ import annotations

from typing import Protocol

from profile_service.models import (
    AttributeValue,
    ConsentChange,
    ConsentIn,
    ErasureChange,
    ErasureIn,
    EventIn,
    HeldErasure,
    ProfileChange,
    Rejection,
    Seed,
)
from profile_service.settings import ServiceSettings

AnyChange = ProfileChange | ConsentChange | ErasureChange


class ProfileStore(Protocol):
    """What the HTTP API needs from storage. Every method is one transaction."""

    async def seed_if_empty(self, seed: Seed) -> int | None:
        """Apply the seed to a new database (once, whichever worker gets there first); None if it
        held data already."""

    async def counters(self) -> dict[str, int]: ...

    async def store_events(
        self, gateway_site: str, events: list[EventIn], known_customers_only: bool, invalid: int
    ) -> tuple[list[str], list[Rejection]]:
        """Store each event once per (gateway site, event id); a redelivered id is accepted again.
        Each customer named is recorded as seen by `gateway_site` (the erasure authority).
        Events of erased (or, if required, unknown) customers are rejected. `invalid`: events the
        caller already rejected, counted with these."""

    async def changes_since(self, since: int, limit: int) -> tuple[list[AnyChange], int, bool]:
        """The changes after cursor `since` in order, the new cursor, and whether more wait."""

    async def erase(self, requester: str, erasures: list[ErasureIn]) -> tuple[list[str], list[str]]:
        """Apply or hold each erasure as `profile_service.authority` decides for `requester` (a
        site, or OFFICER); every request is kept with its outcome. Returns (accepted, held)."""

    async def held_erasures(self) -> list[HeldErasure]:
        """Erasures held for the privacy officer whose customer is not erased yet."""

    async def apply_seed(self, seed: Seed) -> int: ...

    async def admin_set_profile(self, customer_id: str, attributes: dict[str, AttributeValue]) -> None: ...

    async def admin_set_consent(self, customer_id: str, consent: ConsentIn) -> None: ...

    async def close(self) -> None: ...


def storage_name(settings: ServiceSettings) -> str:
    return "postgresql" if settings.database_url is not None else "sqlite"


async def open_store(settings: ServiceSettings) -> ProfileStore:
    """The store the settings choose, migrated and ready."""
    if settings.database_url is not None:
        from profile_service.pg.store import PostgresStore  # asyncpg is needed only here

        return await PostgresStore.open(settings)
    from profile_service.sqlite_store import SqliteStore

    return await SqliteStore.open(settings.db_path)

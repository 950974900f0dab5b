"""The SQLite store: one file, WAL, synchronous=FULL; one writer thread; forward migrations."""

from gateway.store.database import Store

__all__ = ["Store"]

"""The reliability suite reuses the sync tests' real reference service and faulty proxy."""

from tests.sync.conftest import central, proxy  # noqa: F401  (fixtures, re-exported for these tests)

"""The PostgreSQL engine of the profile service (asyncpg): versioned migrations, day partitions of
events with retention, and the `ProfileStore` that several stateless workers share."""

"""In-store analytics at the edge: per-zone figures computed from committed events, kept in
bounded SQLite tables, and only k-anonymous aggregates synced (docs/analytics.md)."""

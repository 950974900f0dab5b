"""Pure models and logic: no I/O in this package."""

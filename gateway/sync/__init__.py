"""Store-and-forward sync with the central profile service."""

"""Device profiles: declarative descriptions of vendor payloads, and their normalisation."""

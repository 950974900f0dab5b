"""Voice: Hermes audio sessions per site, offline speech recognition, intents and skills."""

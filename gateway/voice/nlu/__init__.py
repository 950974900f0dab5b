"""Sentence templates (Rhasspy's sentences.ini style) → intents with slots. Pure: no I/O."""

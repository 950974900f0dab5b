"""Hermes protocol (Rhasspy's) messages and topics: pydantic models, no I/O."""

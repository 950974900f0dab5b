"""Touchgate: an edge gateway for customer touchpoints."""

__version__ = "0.1.0"

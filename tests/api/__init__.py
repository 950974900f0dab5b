"""Tests of the operator surface: admin API, status page, metrics, logs, HA discovery, CLI."""

"""Configuration: YAML files with line positions, pydantic-settings, and reported problems."""

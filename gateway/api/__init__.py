"""The operator surface: admin HTTP API, status page, OpenAPI document."""

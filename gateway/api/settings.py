"""The `api` settings section: the operator HTTP API, its metrics and Home Assistant discovery.

Defined here (each part owns its section); it must not import gateway.config.settings, which
imports this module.
"""

from __future__ import annotations

import ipaddress
from typing import ClassVar, Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from gateway.config.token_strength import token_weakness


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HomeAssistantSettings(Section):
    enabled: bool = True
    discovery_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_/-]{1,64}$")] = "homeassistant"
    interval_s: float = Field(default=30.0, ge=1.0, le=3600.0, description="how often the health state is published")


class ApiSettings(Section):
    """Off by default: the admin API serves nothing until it has a token (or is explicitly opened
    for a demo). Bound to loopback by default; put a TLS proxy in front to reach it from the LAN."""

    # The part this section configures (gateway/assembly.py finds the parts through Settings).
    part: ClassVar[str] = "gateway.api.part:PART"

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8787, ge=0, le=65535, description="0 picks a free port (tests)")
    token: SecretStr | None = Field(default=None, description="bearer token for every route but /healthz")
    insecure_no_auth: bool = Field(default=False, description="serve without a token: only for a demo on one machine")
    login_code: SecretStr | None = Field(
        default=None, description="a one-time code: GET /login?code=… logs a browser in once (`make demo` prints the link)"
    )
    metrics: bool = Field(default=True, description="serve Prometheus text at /metrics")
    status_refresh_s: float = Field(default=5.0, ge=1.0, le=600.0, description="how often the status page refreshes")
    recent_items: int = Field(default=20, ge=1, le=1000, description="voice turns and rule firings kept for the page")
    homeassistant: HomeAssistantSettings = HomeAssistantSettings()
    # The status page's sessions (gateway/api/sessions.py) and login throttling (throttle.py).
    behind_tls: bool = Field(
        default=False, description="a TLS proxy serves this API: the session cookie is marked Secure (sent over HTTPS only)"
    )
    session_idle_s: float = Field(default=900.0, ge=1.0, le=86_400.0, description="a page session unused this long ends")
    session_max_s: float = Field(default=8 * 3600.0, ge=1.0, le=7 * 86_400.0, description="a page session ends this long after login, used or not")
    max_sessions: int = Field(default=32, ge=1, le=10_000, description="page sessions at once; a new login ends the least recently used")
    login_failures_per_client: int = Field(default=5, ge=1, le=1000, description="wrong tokens from one address within login_window_s before 429")
    login_failures_global: int = Field(default=30, ge=1, le=100_000, description="wrong tokens from all addresses within login_window_s before 429")
    login_window_s: float = Field(default=60.0, ge=1.0, le=86_400.0, description="the window failed logins are counted in")

    @field_validator("token")
    @classmethod
    def _token_strong_enough(cls, token: SecretStr | None) -> SecretStr | None:
        weakness = token_weakness(token.get_secret_value()) if token is not None else None
        if weakness is not None:
            raise ValueError(weakness)
        return token

    @model_validator(mode="after")
    def _can_start(self) -> Self:
        """The start rules as errors at the field they name, so a file that breaks them fails
        `touchgate check` and `touchgate run` at that field's line (gateway/config/problems.py).
        A section made in code skips validation only through model_construct/model_copy: the
        part refuses it again at build."""
        problems = self.start_problems()
        if problems:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(type=PydanticCustomError("api_start", message), loc=(field.removeprefix("api."),), input=None)
                    for field, message in problems
                ],
            )
        return self

    def start_problems(self) -> list[tuple[str, str]]:
        """(field, message) for each reason the server must not start."""
        if not self.enabled or self.token is not None:
            return []
        if not self.insecure_no_auth:
            return [("api.token", "api.enabled needs api.token (or api.insecure_no_auth: true for a demo on one machine)")]
        if not _is_loopback(self.host):
            return [("api.host", f"api.insecure_no_auth on a non-loopback address ({self.host}) would open erasure to the network")]
        return []


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

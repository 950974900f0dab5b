"""The API's settings: it refuses to start without a token unless explicitly opened for a demo,
and refuses a weak token, each at the field's line (`touchgate check` and `run` alike)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from pydantic import ValidationError

from gateway.api.check import check_api
from gateway.app import build_gateway
from gateway.config.problems import ConfigError
from gateway.config.settings import load_settings
from tests.api.conftest import TOKEN, api_settings, started_api
from tests.support.mosquitto import Mosquitto


async def test_refuses_to_start_without_a_token(broker: Mosquitto, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as invalid:
        api_settings(broker, tmp_path, token=None)
    assert [e["loc"] for e in invalid.value.errors()] == [("api", "token")]
    # A section made in code without validation is refused again by the part itself.
    settings = api_settings(broker, tmp_path)
    unchecked = settings.model_copy(update={"api": settings.api.model_copy(update={"token": None})})
    assert [p.field for p in check_api(unchecked)] == ["api.token"]
    with pytest.raises(ConfigError) as caught:
        await build_gateway(unchecked)
    assert caught.value.problems[0].field == "api.token"
    assert "insecure_no_auth" in caught.value.problems[0].message


async def test_insecure_demo_mode_serves_without_a_token_on_loopback_only(broker: Mosquitto, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as invalid:
        api_settings(broker, tmp_path, token=None, insecure_no_auth=True, host="0.0.0.0")
    assert [e["loc"] for e in invalid.value.errors()] == [("api", "host")]
    async with started_api(broker, tmp_path, token=None, insecure_no_auth=True) as api:
        async with aiohttp.ClientSession() as anon:
            async with anon.get(api.url + "/api/status") as response:
                assert response.status == 200


@pytest.mark.parametrize(
    ("token", "words"),
    [
        ("short", "at least 20 characters"),
        (" " * 24, "spaces"),
        ("x" * 24, "repeated"),
        ("ab" * 12, "repeated"),
        ("abcdefghijklmnopqrstuvwx", "guessable 'abcdef'"),
        ("klmnopqrstuvwxyz{|}~", "run of neighbouring"),
        ("Password-for-the-shop-2024", "guessable 'password'"),
        ("acaacaccacaaacccacacaaca", "too few different characters"),
        (TOKEN + "\n", "control characters"),
    ],
)
def test_a_weak_token_is_a_config_error_at_its_line(tmp_path: Path, token: str, words: str) -> None:
    config = tmp_path / "touchgate.yaml"
    config.write_text(f"site_id: shop1\napi:\n  enabled: true\n  token: {token!r}\n".replace("'", '"') if "\n" in token else f"site_id: shop1\napi:\n  enabled: true\n  token: '{token}'\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    problem = caught.value.problems[0]
    assert (problem.file, problem.line, problem.field) == (str(config), 4, "api.token")
    assert words in problem.message
    assert not token.strip() or token.strip() not in str(caught.value), "the refused token is not echoed back"


@pytest.mark.parametrize("made_by", ["openssl rand -hex 24", "secrets.token_urlsafe(32)", "secrets.token_hex(10)"])
def test_generated_tokens_pass(made_by: str) -> None:
    import secrets

    from gateway.config.token_strength import token_weakness

    make = {
        "openssl rand -hex 24": lambda: secrets.token_hex(24),
        "secrets.token_urlsafe(32)": lambda: secrets.token_urlsafe(32),
        "secrets.token_hex(10)": lambda: secrets.token_hex(10),
    }[made_by]
    weak = [t for t in (make() for _ in range(2000)) if token_weakness(t) is not None]
    assert len(weak) <= 1, weak[:3]


def test_token_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHGATE_API__TOKEN", "from-the-environment-123")
    monkeypatch.setenv("TOUCHGATE_API__ENABLED", "true")
    settings = load_settings(None)
    assert settings.api.token is not None and settings.api.token.get_secret_value() == "from-the-environment-123"
    assert check_api(settings) == []
    assert "from-the-environment" not in repr(settings.api)

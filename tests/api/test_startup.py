"""The API's settings: it refuses to start without a token unless explicitly opened for a demo."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from gateway.api.check import check_api
from gateway.app import build_gateway
from gateway.config.problems import ConfigError
from gateway.config.settings import load_settings
from tests.api.conftest import api_settings, started_api
from tests.support.mosquitto import Mosquitto


async def test_refuses_to_start_without_a_token(broker: Mosquitto, tmp_path: Path) -> None:
    settings = api_settings(broker, tmp_path, token=None)
    assert [p.field for p in check_api(settings)] == ["api.token"]
    with pytest.raises(ConfigError) as caught:
        await build_gateway(settings)
    assert caught.value.problems[0].field == "api.token"
    assert "insecure_no_auth" in caught.value.problems[0].message


async def test_insecure_demo_mode_serves_without_a_token_on_loopback_only(broker: Mosquitto, tmp_path: Path) -> None:
    exposed = api_settings(broker, tmp_path, token=None, insecure_no_auth=True, host="0.0.0.0")
    assert [p.field for p in check_api(exposed)] == ["api.host"]
    async with started_api(broker, tmp_path, token=None, insecure_no_auth=True) as api:
        async with aiohttp.ClientSession() as anon:
            async with anon.get(api.url + "/api/status") as response:
                assert response.status == 200


def test_short_token_is_a_config_error_with_its_line(tmp_path: Path) -> None:
    config = tmp_path / "touchgate.yaml"
    config.write_text("site_id: shop1\napi:\n  enabled: true\n  token: short\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    problem = caught.value.problems[0]
    assert (problem.line, problem.field) == (4, "api.token")
    assert "16 characters" in problem.message


def test_token_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHGATE_API__TOKEN", "from-the-environment-123")
    monkeypatch.setenv("TOUCHGATE_API__ENABLED", "true")
    settings = load_settings(None)
    assert settings.api.token is not None and settings.api.token.get_secret_value() == "from-the-environment-123"
    assert check_api(settings) == []
    assert "from-the-environment" not in repr(settings.api)

"""The demo's simulated speaker against a real gateway: wake word, heard text, intent, the spoken
reply written to a WAV file (and playFinished answered), and the end of each session."""

from __future__ import annotations

import asyncio
import contextlib
import wave
from pathlib import Path

from gateway.mqtt import MqttClient
from gateway.voice.demo_speaker import DemoSpeaker
from tests.support.gateway import gateway_settings, running_gateway
from tests.support.mosquitto import Mosquitto


async def test_demo_speaker_prints_the_turn(broker: Mosquitto, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path)
    lines: list[str] = []
    async with running_gateway(settings, timeout=30):
        client = MqttClient(settings.mqtt.model_copy(update={"client_id": "demo-speaker"}))
        speaker = DemoSpeaker(
            client.publish, "shopfloor", lambda tag, text: lines.append(f"{tag} {text}"), tmp_path / "replies",
            names=("en_where_milk", "en_off_joke"), play_aloud=False, realtime_playback=False,
        )
        speaker.attach(client)
        task = asyncio.create_task(client.run())
        try:
            await asyncio.wait_for(client.wait_connected(), 10)
            await asyncio.wait_for(speaker.run(pause_s=0.0, rounds=1), 30)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert speaker.turns == 2
    assert "speaker heard: 'where is the milk'" in lines
    assert "speaker intent: WhereIsProduct(product=milk)" in lines
    assert "speaker intent: not recognised" in lines
    assert lines.count("speaker session ended: nominal") == 1
    assert lines.count("speaker session ended: intentNotRecognized") == 1
    # Both replies (the answer and the apology) were received, saved as WAV and reported played.
    assert len(speaker.replies) == 2
    for path in speaker.replies:
        assert f"speaker says: {path} (" in " ".join(lines)
        with wave.open(str(path)) as reply:
            assert reply.getnframes() / reply.getframerate() > 0.5

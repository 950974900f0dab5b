"""A simulated Rhasspy satellite for `touchgate demo`: it "hears" its wake word, streams one of the
committed test utterances over Hermes in real time, and prints what the gateway heard, which
intent it found and how the session ended. The spoken reply comes back as `playBytes`: the speaker
writes it to a WAV file (and plays it with `aplay` where the machine has a sound card), prints
`speaker says: <file>`, and answers `playFinished` once it has been played, so the TTS part
sends `sayFinished` and the dialogue manager ends the session.

Wiring (in the demo runner): `speaker = DemoSpeaker(client.publish, site, console.line, reply_dir)`,
`speaker.attach(client)` before the client runs, then run `speaker.run()` as a task.
"""

from __future__ import annotations

import asyncio
import glob
import io
import json
import shutil
import wave
from collections.abc import Callable
from pathlib import Path

from gateway.hermes import topics
from gateway.hermes.audioserver import AudioFrame
from gateway.hermes.playback import parse_play_bytes_topic, play_finished_topic
from gateway.model.inbound import InboundMessage
from gateway.mqtt import MqttClient
from gateway.audio import make_wav
from gateway.waiting import within
from gateway.processes import reap

AUDIO_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "audio"
DEMO_UTTERANCES = ("en_where_milk", "en_hours_1", "en_offers_1", "en_points_1", "en_staff_1", "en_off_weather", "en_help_2")
FRAME_SAMPLES = 1024
WAKEWORD = "touchgate"

Publish = Callable[..., None]
Line = Callable[[str, str], None]


def has_sound_card() -> bool:
    """aplay is installed and ALSA lists a playback device (none on servers and CI machines)."""
    return shutil.which("aplay") is not None and bool(glob.glob("/dev/snd/pcmC*D*p"))


class DemoSpeaker:
    def __init__(
        self, publish: Publish, site: str, line: Line, reply_dir: Path | None = None,
        names: tuple[str, ...] = DEMO_UTTERANCES, play_aloud: bool | None = None, realtime_playback: bool = True,
    ) -> None:
        self._publish = publish
        self._site = site
        self._line = line
        self._names = names
        self._reply_dir = reply_dir
        self._play_aloud = has_sound_card() if play_aloud is None else play_aloud
        # Answer playFinished after the reply's duration, as a loudspeaker would (off: at once).
        self._realtime_playback = realtime_playback
        self._session: str | None = None
        self._started = asyncio.Event()
        self._ended = asyncio.Event()
        self._playing: set[asyncio.Task[None]] = set()
        self.turns = 0
        self.replies: list[Path] = []

    def attach(self, client: MqttClient) -> None:
        for subscription in (topics.DM_SESSION_STARTED, topics.DM_SESSION_ENDED, topics.ASR_TEXT_CAPTURED, topics.INTENT_SUBSCRIPTION, topics.NLU_INTENT_NOT_RECOGNIZED):
            client.route(subscription, self.on_message, qos=1, auto_ack=True)
        client.route(f"hermes/audioServer/{self._site}/playBytes/+", self.on_play_bytes, qos=0, auto_ack=True)

    def on_message(self, message: InboundMessage) -> None:
        try:
            body = json.loads(message.payload)
        except ValueError:
            return
        if not isinstance(body, dict) or body.get("siteId") != self._site:
            return
        if message.topic == topics.DM_SESSION_STARTED and self._session is None:
            self._session = str(body.get("sessionId"))
            self._started.set()
            return
        if body.get("sessionId") != self._session:
            return
        if message.topic == topics.ASR_TEXT_CAPTURED:
            self._line("speaker", f"heard: {body.get('text')!r}")
        elif (name := topics.parse_intent_topic(message.topic)) is not None:
            slots = ", ".join(f"{s.get('slotName')}={s.get('value', {}).get('value')}" for s in body.get("slots", []))
            self._line("speaker", f"intent: {name}({slots})")
        elif message.topic == topics.NLU_INTENT_NOT_RECOGNIZED:
            self._line("speaker", "intent: not recognised")
        elif message.topic == topics.DM_SESSION_ENDED:
            self._line("speaker", f"session ended: {body.get('termination', {}).get('reason')}")
            self._ended.set()

    def on_play_bytes(self, message: InboundMessage) -> None:
        parsed = parse_play_bytes_topic(message.topic)
        if parsed is None or parsed[0] != self._site:
            return
        task = asyncio.get_running_loop().create_task(self._play_reply(parsed[1], message.payload))
        self._playing.add(task)
        task.add_done_callback(self._playing.discard)

    async def _play_reply(self, request_id: str, wav_bytes: bytes) -> None:
        try:
            with wave.open(io.BytesIO(wav_bytes)) as reader:
                duration_s = reader.getnframes() / reader.getframerate()
        except (wave.Error, EOFError, ZeroDivisionError) as exc:
            self._line("speaker", f"cannot play the reply: {exc}")
            return  # a speaker that cannot play it does not claim it did: the TTS part times out
        shown = f"{len(wav_bytes)} bytes, {duration_s:.1f}s"
        if self._reply_dir is not None:
            path = self._reply_dir / f"reply-{len(self.replies) + 1:03d}.wav"
            await asyncio.to_thread(_write, path, wav_bytes)
            self.replies.append(path)
            shown = f"{path} ({duration_s:.1f}s)"
        self._line("speaker", f"says: {shown}")
        if self._play_aloud:
            process = await asyncio.create_subprocess_exec(
                "aplay", "-q", "-", stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )
            try:
                await process.communicate(wav_bytes)
            finally:
                if process.returncode is None:  # cancelled (the demo stopped) while it played
                    await reap(process)
        elif self._realtime_playback:
            await asyncio.sleep(duration_s)
        body = {"id": request_id, "siteId": self._site, "sessionId": self._session}
        self._publish(play_finished_topic(self._site), json.dumps(body).encode(), qos=1)

    async def run(self, pause_s: float = 6.0, rounds: int | None = None) -> None:
        done = 0
        while rounds is None or done < rounds:
            for name in self._names:
                await self.play(AUDIO_DIR / f"{name}.wav")
                await asyncio.sleep(pause_s)
            done += 1

    async def play(self, path: Path, timeout_s: float = 20.0) -> None:
        """One turn: wake word, the utterance in real time, then wait for the session's end."""
        with wave.open(str(path), "rb") as reader:
            pcm = reader.readframes(reader.getnframes())
        self._session = None
        self._started.clear()
        self._ended.clear()
        self._line("speaker", f"wake word, then plays {path.stem}")
        detected = {"siteId": self._site, "modelId": WAKEWORD, "currentSensitivity": 0.5}
        self._publish(f"hermes/hotword/{WAKEWORD}/detected", json.dumps(detected).encode(), qos=1)
        await within(self._started.wait(), timeout_s)
        step = FRAME_SAMPLES * 2
        for offset in range(0, len(pcm), step):
            if self._ended.is_set():
                break
            frame = AudioFrame(self._site, make_wav(pcm[offset : offset + step]))
            self._publish(frame.topic(), frame.wav, qos=0)
            await asyncio.sleep(FRAME_SAMPLES / 16000)  # in real time, as a microphone records
        await within(self._ended.wait(), timeout_s)
        self.turns += 1


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)

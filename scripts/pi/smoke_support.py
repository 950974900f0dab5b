"""What the emulated-Pi smoke test (scripts/pi/smoke.py) is built from: failing with a reason,
waiting for a positive signal, commands, MQTT clients of devices and tools, and the audio of a
voice turn. Runs on the installed release's Python: the standard library and its dependencies."""

from __future__ import annotations

import io
import json
import shlex
import ssl
import subprocess
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

CA = Path("/etc/touchgate/ca")
# Generous bounds: a hang fails the run instead of eating CI's budget; nothing here is a timing.
START_TIMEOUT_S = 900.0
WAIT_S = 600.0

# The reply's words, decoded back with PocketSphinx (as tests/dialogue/speech.py does).
REPLY_GRAMMAR = """#JSGF V1.0;
grammar replies;
public <reply> = you will find (milk | bread | coffee | tea | sugar | rice | pasta | apples | bananas | chocolate | water | wine | batteries | toothpaste) in aisle (one | two | three | four | five | six | seven | eight | nine | ten | eleven | twelve | thirteen | fourteen)
    | sorry i did not understand that;
"""



def ok(message: str) -> None:
    print(f"ok: {message}", flush=True)


class SmokeFailure(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


def wait_for(what: str, probe: Callable[[], Any], timeout: float = WAIT_S, every: float = 0.5) -> Any:
    """Poll `probe` until it returns something truthy (a positive signal), or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SmokeFailure(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def run(command: list[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise SmokeFailure(f"{shlex.join(str(c) for c in command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result



# --- MQTT clients ------------------------------------------------------------------------------


class Client:
    """A blocking paho client that keeps every message it receives."""

    def __init__(self, client_id: str, port: int, username: str | None = None, password: str | None = None,
                 tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        self.messages: list[paho.MQTTMessage] = []
        self.lock = threading.Lock()
        self.connack: Any = None
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls is not None:
            self.client.tls_set_context(tls)
        self.client.on_message = self._on_message
        self.client.on_connect = self._on_connect
        self.client.connect(host, port, keepalive=60)
        self.client.loop_start()
        wait_for(f"CONNACK for {client_id} on port {port}", lambda: self.connack is not None, timeout=120, every=0.05)

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self.connack = reason

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        with self.lock:
            self.messages.append(message)

    @property
    def accepted(self) -> bool:
        return not self.connack.is_failure

    def subscribe(self, topic: str) -> None:
        result, mid = self.client.subscribe(topic, qos=1)
        check(result == paho.MQTT_ERR_SUCCESS, f"subscribe {topic}: {result}")

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        info = self.client.publish(topic, payload, qos=qos)
        if qos:
            info.wait_for_publish(timeout=120)
            check(info.is_published(), f"no PUBACK for {topic}")

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def first(self, topic_prefix: str, after: int = 0, **fields: Any) -> dict[str, Any] | None:
        with self.lock:
            found = self.messages[after:]
        for message in found:
            if not message.topic.startswith(topic_prefix):
                continue
            try:
                body = json.loads(message.payload)
            except ValueError:
                continue
            if isinstance(body, dict) and all(body.get(k) == v for k, v in fields.items()):
                return body
        return None

    def wait_json(self, topic_prefix: str, after: int = 0, timeout: float = WAIT_S, **fields: Any) -> dict[str, Any]:
        return wait_for(f"{topic_prefix} {fields}", lambda: self.first(topic_prefix, after, **fields), timeout=timeout, every=0.1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def tls_context(certfile: Path | None = None, keyfile: Path | None = None) -> ssl.SSLContext:
    """Devices verify the broker against the shop's CA, host name included."""
    context = ssl.create_default_context(cafile=str(CA / "ca.crt"))
    if certfile is not None:
        context.load_cert_chain(str(certfile), str(keyfile))
    return context



def wav_info(payload: bytes) -> tuple[int, float]:
    with wave.open(io.BytesIO(payload)) as reader:
        check(reader.getcomptype() == "NONE" and reader.getnframes() > 0, "the reply is not a PCM WAV with audio")
        return reader.getframerate(), reader.getnframes() / reader.getframerate()


def wav_frames(path: Path, samples: int = 1024, trailing_silence_s: float = 1.5) -> list[bytes]:
    """Cut a 16 kHz mono recording into the WAV frames a Rhasspy satellite sends, with the quiet
    that follows a question (the endpoint needs trailing silence)."""
    with wave.open(str(path)) as reader:
        check((reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (16000, 1, 2), f"{path}: not 16 kHz mono")
        pcm = reader.readframes(reader.getnframes())
    pcm += b"\0\0" * int(16000 * trailing_silence_s)
    frames = []
    for start in range(0, len(pcm), samples * 2):
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(16000)
            writer.writeframes(pcm[start : start + samples * 2])
        frames.append(buffer.getvalue())
    return frames


def words_of(wav_bytes: bytes) -> str | None:
    """PocketSphinx (arm64) decodes the spoken reply with a grammar of the shop's answers."""
    import numpy as np
    import soxr
    from pocketsphinx import Decoder

    with wave.open(io.BytesIO(wav_bytes)) as reader:
        rate, channels, width = reader.getframerate(), reader.getnchannels(), reader.getsampwidth()
        raw = reader.readframes(reader.getnframes())
    check(width == 2, f"reply sample width {width}")
    audio = np.frombuffer(raw, dtype="<i2").reshape(-1, channels).mean(axis=1).astype(np.float32)
    if rate != 16000:
        audio = soxr.resample(audio, rate, 16000)
    pcm = np.clip(audio, -32768, 32767).astype("<i2").tobytes()
    decoder = Decoder(bestpath=False, cmn="batch", dither=True, seed=7, loglevel="FATAL")
    decoder.add_jsgf_string("replies", REPLY_GRAMMAR)
    decoder.activate_search("replies")
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    return hyp.hypstr if hyp is not None else None

"""The generated Mosquitto configuration on a real broker (loopback ports): accounts, ACL per
device class, TLS with the shop's CA, client certificates; and the gateway's own MqttClient."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr

from gateway.config.settings import MqttSettings
from gateway.model.inbound import InboundMessage
from gateway.mqtt import MqttClient
from tests.deploy.support import DEPLOY, free_port, run, wait_for_port
from tests.support.mosquitto import find_mosquitto

PASSWORDS = {"touchgate": "gw-secret", "shop1_cool": "cool-secret", "shop1_door": "door-secret", "speaker1": "spk-secret"}


@dataclass
class Shop:
    conf_dir: Path
    ca: Path
    wrong_ca: Path
    loopback: int
    lan: int
    cert: int


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    base = tmp_path_factory.mktemp("broker")
    ca, wrong, conf_dir = base / "ca", base / "wrong-ca", base / "mosquitto"
    certs = DEPLOY / "make-certs.sh"
    run([certs, "--dir", ca, "ca"])
    run([certs, "--dir", ca, "broker", "--name", "localhost", "--ip", "127.0.0.1"])
    run([certs, "--dir", ca, "client", "touchgate"])
    run([certs, "--dir", ca, "client", "shop1_cool"])
    # Another CA, as an attacker (or another shop) would have: same names, wrong signer.
    run([certs, "--dir", wrong, "ca"])
    run([certs, "--dir", wrong, "client", "touchgate"])

    shop = Shop(conf_dir, ca, wrong, free_port(), free_port(), free_port())
    broker = DEPLOY / "broker.sh"
    run([broker, "certs", "--ca-dir", ca, "--conf-dir", conf_dir])
    run([broker, "config", "--conf-dir", conf_dir, "--out", base / "conf.d/touchgate.conf", "--bind", "127.0.0.1",
         "--loopback-port", shop.loopback, "--lan-port", shop.lan, "--cert-port", shop.cert])
    run([broker, "account", "gateway", "touchgate", "--password", PASSWORDS["touchgate"], "--conf-dir", conf_dir])
    for sensor in ("shop1_cool", "shop1_door"):
        run([broker, "account", "sensor", sensor, "--site", "shop1", "--password", PASSWORDS[sensor], "--conf-dir", conf_dir])
    run([broker, "account", "speaker", "speaker1", "--site", "shop1", "--password", PASSWORDS["speaker1"], "--conf-dir", conf_dir])

    # The main file plays Debian's /etc/mosquitto/mosquitto.conf, which includes conf.d. `user
    # root`: pytest's temporary folders are private to root, the mosquitto user could not read them.
    main = base / "mosquitto.conf"
    main.write_text(f"user root\nlog_dest file {base}/mosquitto.log\ninclude_dir {base}/conf.d\n")
    proc = subprocess.Popen([find_mosquitto(), "-c", str(main)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for port in (shop.loopback, shop.lan, shop.cert):
            wait_for_port(port)
        yield shop
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Client:
    """A plain MQTT 5 client that reports what the broker said."""

    def __init__(self, port: int, username: str | None = None, password: str | None = None, tls: ssl.SSLContext | None = None, client_id: str = "") -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"t-{username}-{time.monotonic_ns()}", protocol=paho.MQTTv5)
        self.connack = threading.Event()
        self.reason: str | None = None
        self.messages: list[paho.MQTTMessage] = []
        self.subscribed = threading.Event()
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls is not None:
            self.client.tls_set_context(tls)
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda c, u, m: self.messages.append(m)
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.port = port

    def _on_connect(self, client: paho.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        self.reason = str(reason)
        self.connack.set()

    def connect(self) -> str:
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        if not self.connack.wait(10):
            raise TimeoutError("no CONNACK")
        assert self.reason is not None
        return self.reason

    def close(self) -> None:
        self.client.loop_stop()
        with contextlib.suppress(Exception):
            self.client.disconnect()


@contextlib.contextmanager
def connected(port: int, username: str, tls: ssl.SSLContext | None = None) -> Iterator[Client]:
    client = Client(port, username, PASSWORDS[username], tls)
    try:
        assert client.connect() == "Success"
        yield client
    finally:
        client.close()


def tls_context(ca: Path, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        context.load_cert_chain(str(cert), str(key))
    return context


def test_anonymous_and_wrong_passwords_are_refused(shop: Shop) -> None:
    for port, tls in ((shop.loopback, None), (shop.lan, tls_context(shop.ca / "ca.crt"))):
        anonymous = Client(port, tls=tls)
        try:
            assert anonymous.connect() == "Not authorized"
        finally:
            anonymous.close()
        wrong = Client(port, "touchgate", "not-the-password", tls=tls)
        try:
            assert wrong.connect() in ("Bad user name or password", "Not authorized")
        finally:
            wrong.close()


def publish_and_collect(shop: Shop, username: str, forbidden: list[str], allowed: str) -> list[str]:
    """Publish the forbidden topics, then the allowed one, as `username`; return what a
    subscriber (the gateway account) received. Mosquitto delivers one client's messages in order,
    so once the allowed one arrived, any forbidden one that got through is there too."""
    with connected(shop.loopback, "touchgate") as watcher:
        watcher.client.subscribe("#", qos=1)
        assert watcher.subscribed.wait(10)
        with connected(shop.lan, username, tls_context(shop.ca / "ca.crt")) as device:
            for topic in [*forbidden, allowed]:
                device.client.publish(topic, b"{}", qos=1).wait_for_publish(10)
            deadline = time.monotonic() + 10
            while allowed not in [m.topic for m in watcher.messages] and time.monotonic() < deadline:
                time.sleep(0.01)
        return [m.topic for m in watcher.messages]


def test_a_sensor_publishes_only_beneath_its_own_name(shop: Shop) -> None:
    forbidden = [
        "tele/shop1_door/SENSOR",           # another device's topic
        "shellies/shop1_door/sensor/state",
        "hermes/tts/say",                   # actions: the gateway's alone
        "hermes/audioServer/shop1/playBytes/1",
        "touchgate/shop1/display/screen1",
        "touchgate/shop1/staff",
        "touchgate/shop1/status",
    ]
    received = publish_and_collect(shop, "shop1_cool", forbidden, "tele/shop1_cool/SENSOR")
    assert "tele/shop1_cool/SENSOR" in received
    assert not set(forbidden) & set(received), received


def test_a_till_bridge_publishes_only_its_own_sales(shop: Shop) -> None:
    """A point-of-sale bridge is a sensor account: pos/<its site>/<its name>/sale only (the
    analytics' conversion counts these, so another till's or another shop's sales are forgeries)."""
    forbidden = ["pos/shop1/shop1_door/sale", "pos/shop2/shop1_cool/sale", "pos/shop1/sale"]
    received = publish_and_collect(shop, "shop1_cool", forbidden, "pos/shop1/shop1_cool/sale")
    assert "pos/shop1/shop1_cool/sale" in received
    assert not set(forbidden) & set(received), received


def test_a_speaker_publishes_only_its_own_site_audio(shop: Shop) -> None:
    forbidden = ["hermes/audioServer/shop2/audioFrame", "hermes/tts/say", "hermes/audioServer/shop1/playBytes/9", "tele/shop1_cool/SENSOR"]
    received = publish_and_collect(shop, "speaker1", forbidden, "hermes/audioServer/shop1/audioFrame")
    assert "hermes/audioServer/shop1/audioFrame" in received
    assert not set(forbidden) & set(received), received


def test_a_sensor_cannot_read_other_traffic(shop: Shop) -> None:
    with connected(shop.lan, "shop1_door", tls_context(shop.ca / "ca.crt")) as eavesdropper:
        eavesdropper.client.subscribe("#", qos=1)
        assert eavesdropper.subscribed.wait(10)
        with connected(shop.loopback, "touchgate") as gateway:
            gateway.client.publish("hermes/tts/say", b'{"text": "hello"}', qos=1).wait_for_publish(10)
            gateway.client.publish("cmnd/shop1_door/POWER", b"ON", qos=1).wait_for_publish(10)
        deadline = time.monotonic() + 5
        while not eavesdropper.messages and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [m.topic for m in eavesdropper.messages] == ["cmnd/shop1_door/POWER"]


async def run_mqtt_client(settings: MqttSettings, seconds: float) -> tuple[bool, list[InboundMessage]]:
    """Run the gateway's MqttClient; return whether it connected and what it received on
    touchgate/# after publishing there."""
    client = MqttClient(settings)
    received: list[InboundMessage] = []
    client.route("touchgate/#", received.append, auto_ack=True)
    task = asyncio.create_task(client.run())
    try:
        try:
            await asyncio.wait_for(client.wait_connected(), seconds)
        except TimeoutError:
            return False, received
        client.publish("touchgate/shop1/status", b"online", qos=1)
        for _ in range(500):
            if received:
                break
            await asyncio.sleep(0.01)
        return True, received
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_gateway_connects_over_tls_with_verification(shop: Shop) -> None:
    settings = MqttSettings(host="127.0.0.1", port=shop.lan, client_id="gw-tls", username="touchgate",
                            password=SecretStr(PASSWORDS["touchgate"]), tls=True, ca_file=shop.ca / "ca.crt")
    ok, received = await run_mqtt_client(settings, 10)
    assert ok
    assert [m.payload for m in received] == [b"online"]


async def test_gateway_connects_with_its_client_certificate(shop: Shop) -> None:
    """The certificate listener: no password; the certificate's CN is the account."""
    settings = MqttSettings(host="127.0.0.1", port=shop.cert, client_id="gw-cert", tls=True, ca_file=shop.ca / "ca.crt",
                            cert_file=shop.ca / "touchgate.crt", key_file=shop.ca / "touchgate.key")
    ok, received = await run_mqtt_client(settings, 10)
    assert ok
    assert [m.payload for m in received] == [b"online"]


async def test_gateway_refuses_a_broker_signed_by_another_ca(shop: Shop) -> None:
    settings = MqttSettings(host="127.0.0.1", port=shop.lan, client_id="gw-wrong-ca", username="touchgate",
                            password=SecretStr(PASSWORDS["touchgate"]), tls=True, ca_file=shop.wrong_ca / "ca.crt",
                            reconnect_min_s=0.1, reconnect_max_s=0.2)
    ok, _ = await run_mqtt_client(settings, 1.5)
    assert not ok
    # Why: the broker's certificate does not verify against that CA.
    with socket.create_connection(("127.0.0.1", shop.lan), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            tls_context(shop.wrong_ca / "ca.crt").wrap_socket(raw, server_hostname="127.0.0.1")


def refused_after_handshake(port: int, context: ssl.SSLContext) -> bool:
    """With TLS 1.3 the server judges the client's certificate after the client's side of the
    handshake is done: refusal shows as an alert (SSLError) or a closed connection on first read."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                return tls.recv(1) == b""
        except ssl.SSLError:
            return True


def test_broker_refuses_a_client_certificate_from_another_ca(shop: Shop) -> None:
    good = Client(shop.cert, tls=tls_context(shop.ca / "ca.crt", shop.ca / "shop1_cool.crt", shop.ca / "shop1_cool.key"))
    try:
        assert good.connect() == "Success"
    finally:
        good.close()
    forged = tls_context(shop.ca / "ca.crt", shop.wrong_ca / "touchgate.crt", shop.wrong_ca / "touchgate.key")
    assert refused_after_handshake(shop.cert, forged)
    assert refused_after_handshake(shop.cert, tls_context(shop.ca / "ca.crt"))  # no certificate at all


def test_removing_an_account_ends_its_access(shop: Shop, tmp_path: Path) -> None:
    """broker.sh remove takes the account out of the password file and the ACL."""
    conf_dir = tmp_path / "mosquitto"
    run([DEPLOY / "broker.sh", "account", "sensor", "gone", "--site", "shop1", "--password", "x", "--conf-dir", conf_dir])
    run([DEPLOY / "broker.sh", "remove", "gone", "--conf-dir", conf_dir])
    assert "gone" not in (conf_dir / "passwd").read_text()
    assert "user gone" not in (conf_dir / "acl").read_text()
    assert (conf_dir / "accounts").read_text() == ""

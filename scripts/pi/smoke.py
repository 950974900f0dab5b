"""Smoke test of an installed Touchgate, run by the installed (arm64) Python inside the emulated
Pi by scripts/pi-emulated.sh, as root, in a network namespace that has only loopback.

It does what an operator and a shop would: adds device accounts with deploy/broker.sh, points the
config at the central service, starts Mosquitto and the gateway the way their systemd units
would (user, group, environment file, working directory, umask, state directory, NOTIFY_SOCKET
with WATCHDOG_USEC), waits for READY=1, then checks behaviour only (emulated speed means nothing):
every device profile's samples published over TLS with each device's own account and stored as
the right events; a Hermes voice turn (wake word, PocketSphinx transcript, spoken reply decoded
back to its words); the consent gate and a sync round to the reference profile service;
`touchgate check`, `touchgate status`, `touchgate audit verify`; a clean stop on SIGTERM.

Only the release's own venv and the standard library are used: nothing from tests/ is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pwd
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from smoke_support import CA, START_TIMEOUT_S, Client, SmokeFailure, check, ok, run, tls_context, wait_for, wav_frames, wav_info, words_of
from systemd_unit import environment_file, started_like_systemd

RELEASE = Path("/opt/touchgate/current")
TOUCHGATE = RELEASE / "venv/bin/touchgate"
ETC = Path("/etc/touchgate")
CONFIG = ETC / "config.yaml"
SECRETS = ETC / "secrets.env"
DATABASE = Path("/var/lib/touchgate/touchgate.db")
BROKER_SH = RELEASE / "deploy/broker.sh"
MAKE_CERTS = RELEASE / "deploy/make-certs.sh"
HERE = Path(__file__).resolve().parent
CENTRAL_PORT = 8780

# The customer the central service knows, with consent for `service` (card taps' purpose), and one
# it has never heard of: the gate must keep the second one's identity on the Pi.
CONSENTED_CARD = "94D8FC5F"
UNKNOWN_CARD = "0BADCAFE"

# --- the operator's steps ----------------------------------------------------------------------


@dataclass
class Device:
    account: str
    klass: str
    site: str
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))


def account_for(topic: str) -> Device:
    """The account a real device publishing on `topic` would have (docs/operators.md, section 4)."""
    parts = topic.split("/")
    if parts[0] == "tele":  # Tasmota: tele/<name>/...
        return Device(parts[1], "sensor", "kiosk1" if "kiosk1" in parts[1] else "shop1")
    if parts[0] == "shellies":
        return Device(parts[1], "sensor", "shop1")
    if parts[0] in ("milesight", "pos"):  # milesight/<site>/<name>/uplink, pos/<site>/<till>/sale
        return Device(parts[2], "sensor", parts[1])
    if parts[0] == "zigbee2mqtt":
        return Device(f"z2m-{parts[1]}", "bridge", parts[1])
    if parts[0] == "home":  # OpenMQTTGateway: home/<site>/...
        return Device(f"omg-{parts[1]}", "bridge", parts[1])
    raise SmokeFailure(f"no device class known for sample topic {topic}")


def load_samples() -> list[dict[str, Any]]:
    samples: list[dict[str, Any]] = []
    profiles = sorted(p.stem for p in (RELEASE / "device_profiles").glob("*.yaml"))
    for path in sorted((RELEASE / "device_profiles/samples").glob("*.yaml")):
        for sample in yaml.safe_load(path.read_text()):
            samples.append(sample | {"profile": path.stem})
    check(sorted({s["profile"] for s in samples}) == profiles, f"samples do not cover every profile: {profiles}")
    return samples


def configure(site: str, token: str) -> None:
    """What the operator adds to the installed config: the central service, and timeouts that
    allow for emulation being 10-30 times slower than a Pi (a real Pi needs none of these)."""
    with CONFIG.open("a") as config:
        config.write(f"""
# added by scripts/pi/smoke.py
sync:
  url: http://127.0.0.1:{CENTRAL_PORT}
  poll_interval_s: 1
ingest:
  # The shop's own iBeacon (the samples' one) keeps its MAC; every other advertiser is anonymised.
  own_beacons:
    - {{name: entrance beacon, uuid: e2c56db5-dffb-48d2-b060-d0f5a71096e0, major: 100, minor: 7}}
voice:
  session_timeout_s: 600
  endpoint:
    no_speech_timeout_s: 60
    max_utterance_s: 60
tts:
  synthesis_timeout_s: 120
  play_finished_timeout_s: 600
""")
    with SECRETS.open("a") as env:
        env.write(f"TOUCHGATE_SYNC__TOKEN={token}\n")
    result = run([TOUCHGATE, "check", "--config", CONFIG], env=operator_env())
    check("configuration OK" in result.stdout, f"touchgate check: {result.stdout}{result.stderr}")
    ok("touchgate check --config /etc/touchgate/config.yaml (with secrets.env's environment): configuration OK")


def operator_env() -> dict[str, str]:
    """The environment for the operator's commands (check, status, audit): the service's secrets
    too. The sync token lives in secrets.env, which only systemd reads; without it every command
    that loads the config refuses it ("sync.url needs sync.token")."""
    return {**os.environ, **environment_file(SECRETS)}


def add_accounts(devices: list[Device]) -> None:
    for device in devices:
        command: list[str | Path] = [BROKER_SH, "account", device.klass, device.account, "--password", device.password]
        if device.klass != "gateway":
            command += ["--site", device.site]
        run(command)
    ok(f"broker.sh: {len(devices)} accounts ({', '.join(f'{d.klass} {d.account}' for d in devices)})")


def database() -> sqlite3.Connection:
    return sqlite3.connect(f"file:{DATABASE}?mode=ro", uri=True, timeout=30)


def rows(sql: str, *args: Any, path: Path = DATABASE) -> list[tuple[Any, ...]]:
    if not path.exists():
        return []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
        try:
            return list(db.execute(sql, args))
        except sqlite3.OperationalError:
            return []  # the schema is not there yet


# --- the checks ----------------------------------------------------------------------------------


def publish_samples(samples: list[dict[str, Any]], devices: dict[str, Device]) -> None:
    anonymous = Client("smoke-anonymous", 8883, tls=tls_context(), host="localhost")
    check(not anonymous.accepted, "the TLS listener accepted a client without an account")
    anonymous.close()
    ok("an anonymous client is refused on the TLS listener (8883)")
    clients: dict[str, Client] = {}
    try:
        for sample in samples:
            device = devices[sample["topic"]]
            if device.account not in clients:
                if device.account == "shop1_coolroom":
                    # This sensor holds a client certificate: port 8884, its CN is its username.
                    cert = CA / f"{device.account}.crt"
                    clients[device.account] = Client(device.account, 8884, tls=tls_context(cert, CA / f"{device.account}.key"), host="localhost")
                else:
                    clients[device.account] = Client(device.account, 8883, device.account, device.password, tls=tls_context(), host="localhost")
                check(clients[device.account].accepted, f"the broker refused {device.klass} {device.account}: {clients[device.account].connack}")
            clients[device.account].publish(sample["topic"], sample["payload"])
    finally:
        for client in clients.values():
            client.close()
    ok(f"{len(samples)} samples of {len({s['profile'] for s in samples})} device profiles published over TLS "
       f"(8883 with each device's account, 8884 with a client certificate), each acknowledged")


def stored_topic(sample: dict[str, Any]) -> str:
    """A stranger's BLE device is stored under `anonymous` (its MAC replaced at the door)."""
    topic = str(sample["topic"])
    return topic.rsplit("/", 1)[0] + "/anonymous" if sample["expect"].get("anonymised") else topic


def check_stored(samples: list[dict[str, Any]], site: str) -> None:
    topics = [stored_topic(s) for s in samples]
    placeholders = ",".join("?" * len(set(topics)))
    wait_for(f"{len(samples)} sample events in {DATABASE}",
             lambda: len(rows(f"SELECT id FROM events WHERE topic IN ({placeholders})", *set(topics))) >= len(samples))
    stored = rows(f"SELECT profile, topic, site, device, kind, purpose, customer_id, attributes FROM events "
                  f"WHERE topic IN ({placeholders}) ORDER BY rowid", *set(topics))
    check(len(stored) == len(samples), f"{len(stored)} events for {len(samples)} samples")
    check(rows("SELECT COUNT(*) FROM dead_letters")[0][0] == 0, f"dead letters: {rows('SELECT reason, detail FROM dead_letters')}")
    for sample, row in zip(samples, stored, strict=True):
        profile, topic, event_site, device, kind, purpose, customer_id, attributes = row
        expect = dict(sample["expect"])
        check(profile == sample["profile"] and topic == stored_topic(sample), f"{sample['topic']}: stored as {row}")
        got_attributes = json.loads(attributes)
        if expect.pop("anonymised", False):
            mac = str(got_attributes.get("mac", ""))
            check(mac.startswith("anon:") and len(mac) > len("anon:"), f"{sample['topic']}: MAC not anonymised: {mac}")
            got_attributes["mac"] = "anon:"
        check(got_attributes == expect.pop("attributes"), f"{sample['topic']}: attributes {attributes}")
        expect.setdefault("site", site)
        # The consented card keeps its id (its consent came from the central service); others none.
        check(customer_id == expect.pop("customer_id", None), f"{sample['topic']}: customer_id {customer_id}")
        got = {"site": event_site, "device": device, "kind": kind, "purpose": purpose}
        for key, value in expect.items():
            check(got.get(key) == value, f"{sample['topic']}: {key} = {got.get(key)}, expected {value}")
    ok(f"all {len(samples)} sample events stored with the expected profile, kind, purpose, site, device and attributes; no dead letters")


def consent_and_sync(samples: list[dict[str, Any]], devices: dict[str, Device], central_db: Path) -> None:
    card_topic = next(s["topic"] for s in samples if s["profile"] == "tasmota-pn532-card-reader")
    reader = devices[card_topic]
    tap = json.dumps({"Time": "2026-11-28T10:05:00", "PN532": {"UID": UNKNOWN_CARD, "DATA": ""}})
    client = Client(f"{reader.account}-2", 8883, reader.account, reader.password, tls=tls_context(), host="localhost")
    try:
        client.publish(card_topic, tap)
    finally:
        client.close()
    unknown = wait_for("the unknown card's tap stored",
                       lambda: rows("SELECT id, customer_id, attributes FROM events WHERE topic = ? ORDER BY rowid", card_topic)[1:])
    check(unknown[0][1] is None, f"an unconsented customer's id was stored: {unknown[0]}")
    check(not rows("SELECT 1 FROM events WHERE customer_id LIKE ?", f"%{UNKNOWN_CARD}%"), "the unknown card's id is stored")
    ok("consent gate: the unknown card's tap is stored without its customer id")
    wait_for("the outbox to drain to the central service", lambda: rows("SELECT COUNT(*) FROM outbox") == [(0,)]
             and rows("SELECT COUNT(*) FROM events") != [(0,)])
    local = {r[0] for r in rows("SELECT id FROM events")}
    central = rows("SELECT id, customer_id, purpose, kind FROM events", path=central_db)
    check(bool(central), "the central service received nothing")
    check({r[0] for r in central} <= local, "the central service has events this gateway never stored")
    consented = [r for r in central if r[1] == f"card:{CONSENTED_CARD}"]
    check(len(consented) == 1 and consented[0][2:] == ("service", "identify"), f"consented tap at the central service: {consented}")
    with sqlite3.connect(f"file:{central_db}?mode=ro", uri=True) as db:
        dump = "\n".join(db.iterdump())
    check(UNKNOWN_CARD not in dump, "the unknown card's id reached the central service")
    ok(f"sync: {len(central)} events at the central service (of {len(local)} stored), the consented tap with its "
       f"customer id, the unconsented one's id nowhere in the central database; outbox empty")


def voice_turn(observer: Client, speaker: Client, site: str) -> None:
    before = observer.count()
    heard = speaker.count()
    speaker.publish("hermes/hotword/hey-shop/detected", json.dumps({"siteId": site, "modelId": "hey-shop"}), qos=0)
    started = observer.wait_json("hermes/dialogueManager/sessionStarted", before, siteId=site)
    session = started["sessionId"]
    observer.wait_json("hermes/asr/startListening", before, sessionId=session)
    for frame in wav_frames(HERE / "en_where_milk.wav"):
        speaker.publish(f"hermes/audioServer/{site}/audioFrame", frame, qos=0)
    captured = observer.wait_json("hermes/asr/textCaptured", before, sessionId=session)
    check(captured["text"] == "where is the milk", f"transcript: {captured['text']!r}")
    ok(f"voice: wake word, then PocketSphinx heard {captured['text']!r}")
    intent = observer.wait_json("hermes/intent/WhereIsProduct", before, sessionId=session)
    check(intent["slots"][0]["value"]["value"] == "milk", f"intent slots: {intent['slots']}")
    play = wait_for("playBytes for the speaker", lambda: next(
        (m for m in speaker.messages[heard:] if m.topic.startswith(f"hermes/audioServer/{site}/playBytes/")), None))
    request_id = play.topic.rsplit("/", 1)[1]
    rate, seconds = wav_info(play.payload)
    words = words_of(play.payload)
    check(words == "you will find milk in aisle three", f"the spoken reply decodes as {words!r}")
    ok(f"voice: spoken reply ({rate} Hz, {seconds:.1f} s of audio) decodes as {words!r}")
    speaker.publish(f"hermes/audioServer/{site}/playFinished", json.dumps({"id": request_id, "siteId": site}))
    ended = observer.wait_json("hermes/dialogueManager/sessionEnded", before, sessionId=session)
    check(ended["termination"]["reason"] == "nominal", f"session ended: {ended['termination']}")
    ok("voice: playFinished, session ended nominally")


def status(samples: int) -> None:
    result = run([TOUCHGATE, "status", "--config", CONFIG], env=operator_env())
    text = result.stdout
    stored = rows("SELECT COUNT(*) FROM events")[0][0]
    check(f"{stored} stored" in text and "outbox        0 events" in text, f"touchgate status:\n{text}")
    print("\n".join(f"    | {line}" for line in text.splitlines()))
    ok(f"touchgate status: {stored} events stored, outbox empty")


def start_central(stack: ExitStack, site: str, token: str, logs: Path) -> Path:
    central = Path("/root/central")
    central.mkdir(exist_ok=True)
    seed = central / "seed.json"
    seed.write_text(json.dumps({"customers": [{
        "customer_id": f"card:{CONSENTED_CARD}", "profile": {"loyalty_tier": "gold"},
        "consents": [{"purpose": "service", "status": "granted", "changed_at": time.time() - 3600, "source": "signup"}],
    }]}))
    db = central / "central.db"
    out = (logs / "central.log").open("wb")
    stack.callback(out.close)
    process = subprocess.Popen(
        [RELEASE / "venv/bin/touchgate-profile-service", "--host", "127.0.0.1", "--port", str(CENTRAL_PORT),
         "--db", db, "--seed", seed], stdout=out, stderr=subprocess.STDOUT,
        env={**os.environ, "PROFILE_SERVICE_SITE_TOKENS": json.dumps({site: token})})

    def stop() -> None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)

    stack.callback(stop)
    wait_for("the profile service to listen", lambda: '"listening"' in (logs / "central.log").read_text()
             or process.poll() is not None, timeout=START_TIMEOUT_S)
    check(process.poll() is None, f"the profile service exited:\n{(logs / 'central.log').read_text()}")
    ok(f"reference profile service (arm64) on 127.0.0.1:{CENTRAL_PORT}, one customer with a `service` consent")
    return db


def files_written_by(user: str, since: float) -> list[str]:
    """Files the service user owns that changed during the run, outside its state directory
    (ReadWritePaths=/var/lib/touchgate; PrivateTmp= would hide /tmp)."""
    uid = pwd.getpwnam(user).pw_uid
    found = []
    for top in ("/etc", "/opt", "/var", "/root", "/home", "/srv"):  # /usr is root's alone
        for dirpath, dirnames, filenames in os.walk(top):
            if dirpath.startswith("/var/lib/touchgate"):
                dirnames.clear()
                continue
            for name in filenames + dirnames:
                path = os.path.join(dirpath, name)
                if path == "/var/lib/touchgate":
                    continue
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                if info.st_uid == uid and info.st_mtime >= since:
                    found.append(path)
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--site", default="shop1")
    args = parser.parse_args()
    site: str = args.site
    print(f"smoke: {platform.machine()} Python {platform.python_version()} in {sys.prefix}", flush=True)
    check(platform.machine() == "aarch64", f"not running as aarch64 but {platform.machine()}")
    logs = Path("/root/smoke/logs")
    logs.mkdir(parents=True, exist_ok=True)
    began = time.time()
    token = secrets.token_urlsafe(24)
    samples = load_samples()
    # One account (and password) per device, however many topics it publishes on.
    unique: dict[str, Device] = {}
    devices = {s["topic"]: unique.setdefault((d := account_for(s["topic"])).account, d) for s in samples}
    speaker = Device("entrance", "speaker", "entrance")
    observer = Device("smoke-observer", "gateway", "")
    add_accounts([*unique.values(), speaker, observer])
    run([MAKE_CERTS, "--dir", CA, "client", "shop1_coolroom"])
    configure(site, token)
    with ExitStack() as stack:
        central_db = start_central(stack, site, token, logs)
        stack.enter_context(started_like_systemd(Path("/lib/systemd/system/mosquitto.service"), "mosquitto", logs))
        gateway = stack.enter_context(started_like_systemd(Path("/etc/systemd/system/touchgate.service"), "touchgate", logs))
        wait_for(f"the consent of card:{CONSENTED_CARD} pulled from the central service",
                 lambda: rows("SELECT status FROM consents WHERE customer_id = ? AND purpose = 'service'", f"card:{CONSENTED_CARD}") == [("granted",)])
        ok("consent pulled from the central service into the gateway")
        publish_samples(samples, devices)
        check_stored(samples, site)
        consent_and_sync(samples, devices, central_db)
        watcher = Client("smoke-observer", 1883, observer.account, observer.password)
        watcher.subscribe("hermes/#")
        satellite = Client("entrance-satellite", 1883, speaker.account, speaker.password)
        satellite.subscribe(f"hermes/audioServer/{speaker.site}/#")
        try:
            voice_turn(watcher, satellite, speaker.site)
        finally:
            watcher.close()
            satellite.close()
        status(len(samples))
        check(gateway.notified("WATCHDOG=1"), "no WATCHDOG=1 ping came from the gateway's event loop")
        ok("the gateway pinged the watchdog (WATCHDOG=1) while running")
        gateway.process.send_signal(signal.SIGTERM)
        code = gateway.process.wait(timeout=600)
        check(code == 0, f"the gateway exited {code} on SIGTERM:\n{gateway.log.read_text()[-3000:]}")
        check(gateway.notified("STOPPING=1"), "the gateway did not say STOPPING=1")
        ok("clean stop: SIGTERM -> STOPPING=1, exit 0")
    verdict = run([TOUCHGATE, "audit", "verify", "--config", CONFIG], env=operator_env())
    ok(f"touchgate audit verify: {verdict.stdout.strip().splitlines()[-1] if verdict.stdout.strip() else 'ok'}")
    stray = files_written_by("touchgate", began)
    check(not stray, f"the service user wrote outside /var/lib/touchgate: {stray}")
    ok("the service user wrote nothing outside /var/lib/touchgate")
    print("smoke: PASSED", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SmokeFailure as failure:
        print(f"smoke: FAILED: {failure}", file=sys.stderr, flush=True)
        for log in [*sorted(Path("/root/smoke/logs").glob("*.log")), Path("/var/log/mosquitto/mosquitto.log")]:
            if not log.exists():
                continue
            print(f"--- {log} (last lines)", file=sys.stderr)
            print("\n".join(log.read_text(errors="replace").splitlines()[-25:]), file=sys.stderr)
        sys.exit(1)

"""Notifications a skill asks for (`Reply.notify`), mapped from named targets to MQTT topics in
the settings, so skills know no topics."""

from __future__ import annotations

import json
from collections.abc import Callable

from gateway.voice.outbound import HermesOut
from gateway.voice.session import Session
from skills.api import Notify


class Notifier:
    def __init__(self, staff_topic: str, publish_json: Callable[[str, bytes], None], out: HermesOut) -> None:
        self._staff_topic = staff_topic
        self._publish_json = publish_json
        self._out = out

    def send(self, session: Session, notify: Notify) -> None:
        if notify.target != "staff":
            self._out.error("dialogueManager", f"unknown notification target {notify.target}", session.site_id, session.session_id)
            return
        self._publish_json(self._staff_topic.format(site=session.site_id), json.dumps(dict(notify.payload)).encode())

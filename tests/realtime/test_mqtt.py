"""The MQTT bridge, against the real broker at 127.0.0.1:1883 (MQTT_URL to change it).

Each test uses a topic prefix of its own, so runs in parallel (or other checkouts) on
the same broker do not hear each other.
"""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import socket
import time
import uuid
from types import MappingProxyType

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from crud.events import DomainEvent
from realtime import events, mqtt, services
from realtime.config import MqttSettings
from tenants.config import Registry
from tests.realtime.conftest import require_service

MQTT_URL = os.environ.get("MQTT_URL", "mqtt://127.0.0.1:1883")


def settings_for(prefix: str, host: str, port: int) -> MqttSettings:
    return MqttSettings(host, port, None, None, "sogoms-test", 1, prefix, 30)


@pytest.fixture
def with_mqtt(alpha, beta, monkeypatch):
    """alpha with an mqtt block, as the realtime modules see the registry; returns the prefix."""

    def install(settings: MqttSettings):
        extensions = MappingProxyType({**alpha.extensions, "mqtt": settings})
        patched = Registry.of([dataclasses.replace(alpha, extensions=extensions), beta])
        monkeypatch.setattr(services, "registry", lambda: patched)
        monkeypatch.setattr(events, "registry", lambda: patched)

    yield install
    mqtt.stop_all()


@pytest.fixture
def listener():
    host, port = require_service("Mosquitto", MQTT_URL, 1883)
    received: queue.Queue = queue.Queue()
    subscribed = []
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"sogoms-listener-{uuid.uuid4().hex[:8]}")
    client.on_message = lambda c, u, message: received.put((message.topic, message.qos, message.payload))
    client.connect(host, port)
    client.loop_start()

    def listen(pattern: str) -> queue.Queue:
        client.on_subscribe = lambda client, userdata, mid, *rest: subscribed.append(mid)
        result, mid = client.subscribe(pattern, qos=1)
        assert result == 0
        deadline = time.time() + 5
        while mid not in subscribed and time.time() < deadline:
            time.sleep(0.02)
        assert mid in subscribed, "the broker did not confirm the subscription"
        return received

    yield host, port, listen
    client.disconnect()
    client.loop_stop()


def test_an_event_is_also_published_over_mqtt_on_the_same_topic(with_mqtt, listener):
    host, port, listen = listener
    prefix = f"sogoms-test-{uuid.uuid4().hex}/"
    with_mqtt(settings_for(prefix, host, port))
    received = listen(f"{prefix}alpha/#")

    frame = services.notify_user(app="alpha", user_id=7, channel="notifications", data={"x": 1})

    topic, qos, payload = received.get(timeout=5)
    assert topic == f"{prefix}alpha/user/{7}/notifications"
    assert qos == 1
    assert json.loads(payload) == frame


def test_crud_events_reach_mqtt_for_the_owner_topic(with_mqtt, listener):
    host, port, listen = listener
    prefix = f"sogoms-test-{uuid.uuid4().hex}/"
    with_mqtt(settings_for(prefix, host, port))
    received = listen(f"{prefix}#")

    events.publish_crud_event(DomainEvent("alpha", "projects", "create", 5, 3, ("name",)))

    topic, _, payload = received.get(timeout=5)
    assert topic == f"{prefix}alpha/user/3/projects"
    assert json.loads(payload)["data"] == {
        "resource": "projects",
        "action": "create",
        "id": 5,
        "changed": ["name"],
    }


def test_a_tenant_without_mqtt_sends_nothing_over_mqtt(listener):
    *_, listen = listener
    received = listen("alpha/#")  # no prefix: what an unconfigured bridge would use
    services.notify_user(app="alpha", user_id=7, channel="notifications", data={"x": 1})
    time.sleep(0.3)
    assert received.empty()
    assert mqtt._bridges == {}


def test_publishing_never_waits_for_a_silent_broker(with_mqtt):
    """A broker that takes the TCP connection and never answers (no CONNACK): a publisher
    that waited for the connection would hang on the first event; ours queues and returns."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshake; nobody ever reads or answers
        with_mqtt(settings_for("x/", "127.0.0.1", silent.getsockname()[1]))
        started = time.perf_counter()
        for _ in range(50):
            services.notify_user(app="alpha", user_id=7, channel="notifications")
        elapsed = time.perf_counter() - started
        bridge = mqtt.bridge_for(services.registry().get("alpha"))
        assert bridge is not None and not bridge.connected.is_set()
    # Far below the seconds a connection attempt would block for, with room for a busy machine.
    assert elapsed < 2.0


def test_queued_events_go_out_once_the_broker_is_reachable(with_mqtt, listener):
    """QoS 1 events published before the connection is up are sent when it is (order may vary)."""
    host, port, listen = listener
    prefix = f"sogoms-test-{uuid.uuid4().hex}/"
    with_mqtt(settings_for(prefix, host, port))
    received = listen(f"{prefix}#")
    for n in range(3):  # the first publish starts the client: not connected yet
        services.broadcast(app="alpha", channel="chat", data=n)
    payloads = [json.loads(received.get(timeout=5)[2])["data"] for _ in range(3)]
    assert sorted(payloads) == [0, 1, 2]

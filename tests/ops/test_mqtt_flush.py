"""A process exiting right after publishing still delivers its MQTT events (real Mosquitto).

The child publishes QoS 1 events through the bridge and exits at once, mostly before its
client has even connected: only the flush at exit (realtime.mqtt.flush_and_stop_all)
gets them all out.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

from tests.realtime.servers import BASE_DIR
from tests.realtime.test_mqtt import listener  # noqa: F401  (the fixture)

EVENTS = 50

CHILD = """
import dataclasses, sys
from types import MappingProxyType
import django
django.setup()
from realtime import mqtt
from realtime.config import MqttSettings
from tenants.registry import registry

host, port, prefix, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
alpha = registry().get("alpha")
settings = MqttSettings(host, port, None, None, "sogoms-test", 1, prefix, 30)
tenant = dataclasses.replace(alpha, extensions=MappingProxyType({**alpha.extensions, "mqtt": settings}))
bridge = mqtt.bridge_for(tenant)
for number in range(count):
    bridge.publish(f"{prefix}alpha/events", str(number).encode())
"""


def test_events_published_just_before_the_process_exits_reach_the_broker(listener):  # noqa: F811
    host, port, listen = listener
    prefix = f"sogoms-test-{uuid.uuid4().hex}/"
    received = listen(f"{prefix}alpha/#")
    env = {"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": "/usr/bin:/bin", "HOME": str(BASE_DIR)}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, host, str(port), prefix, str(EVENTS)],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == 0, child.stdout + child.stderr

    payloads = set()
    deadline = time.monotonic() + 10
    while len(payloads) < EVENTS and time.monotonic() < deadline:
        if not received.empty():
            payloads.add(received.get()[2])
        else:
            time.sleep(0.02)
    assert payloads == {str(number).encode() for number in range(EVENTS)}

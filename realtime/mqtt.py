"""The MQTT bridge: every push event of a tenant with an `mqtt:` block, also over MQTT.

One paho client per tenant per process, started on the first event. paho's network
thread connects, reconnects with back-off (1 s doubling to 60 s) and sends; `publish`
only queues (bounded), so a slow or absent broker never holds up a request. QoS 1
messages queued while the broker is away go out once it is back. A process that exits
(a server stopped with SIGTERM, a Celery pool process, a command) first flushes its
bridges: QoS 1 events not yet acknowledged get up to EXIT_FLUSH_SECONDS to go out.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import threading
import time
from typing import Any

import paho.mqtt.client as paho
from celery.signals import worker_process_shutdown
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from realtime.config import MqttSettings, mqtt_settings
from realtime.topics import Topic
from tenants.config import Tenant

logger = logging.getLogger("sogoms.push.mqtt")
MAX_QUEUED = 10_000  # per tenant; beyond it events are dropped (and logged), memory stays bounded
EXIT_FLUSH_SECONDS = 5.0
_lock = threading.Lock()
_bridges: dict[str, MqttBridge] = {}


class MqttBridge:
    def __init__(self, app: str, settings: MqttSettings) -> None:
        self.app = app
        self.settings = settings
        self._lock = threading.Lock()
        client_id = f"{settings.client_id_prefix}-{app}-{os.getpid()}-{secrets.token_hex(3)}"
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        if settings.username:
            self.client.username_pw_set(settings.username, settings.password)
        self.client.reconnect_delay_set(min_delay=1, max_delay=60)
        self.client.max_queued_messages_set(MAX_QUEUED)
        self.client.on_connect = self._connected
        self.client.on_disconnect = self._disconnected
        self.client.on_publish = self._acknowledged
        self.connected = threading.Event()
        self._pending: set[int] = set()  # message ids not yet acknowledged by the broker
        self._early: set[int] = set()  # acknowledged before publish() returned
        self.client.connect_async(settings.host, settings.port, keepalive=settings.keepalive)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=self.settings.qos)
        if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            logger.warning("%s: MQTT queue full, event on %s dropped", self.app, topic)
            return
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            logger.warning("%s: MQTT publish on %s failed: %s", self.app, topic, info.rc)
            return
        if self.settings.qos > 0:  # paho keeps QoS 1/2 messages queued while disconnected
            with self._lock:  # the broker may have answered already (network thread)
                if info.mid in self._early:
                    self._early.discard(info.mid)
                else:
                    self._pending.add(info.mid)

    def flush(self, timeout: float) -> bool:
        """Wait until what was published went out (commands call it before exiting)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    return True
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _connected(
        self, _client: Any, _userdata: Any, _flags: Any, reason_code: Any, _properties: Any
    ) -> None:
        if reason_code.is_failure:
            logger.warning("%s: MQTT broker refused the connection: %s", self.app, reason_code)
            return
        self.connected.set()
        logger.info("%s: connected to MQTT %s:%s", self.app, self.settings.host, self.settings.port)

    def _acknowledged(
        self, _client: Any, _userdata: Any, mid: int, _reason_code: Any, _properties: Any
    ) -> None:
        with self._lock:
            if mid in self._pending:
                self._pending.discard(mid)
            else:
                self._early.add(mid)

    def _disconnected(
        self, _client: Any, _userdata: Any, _flags: Any, reason_code: Any, _properties: Any
    ) -> None:
        self.connected.clear()
        if reason_code != 0:
            logger.warning("%s: MQTT connection lost (%s); reconnecting", self.app, reason_code)


def bridge_for(tenant: Tenant) -> MqttBridge | None:
    """The tenant's client in this process; a new one if a reload changed its settings."""
    settings = mqtt_settings(tenant)
    if settings is None:
        return None
    with _lock:
        bridge = _bridges.get(tenant.app)
        if bridge is not None and bridge.settings == settings:
            return bridge
        old, bridge = bridge, MqttBridge(tenant.app, settings)
        _bridges[tenant.app] = bridge
    if old is not None:
        old.stop()
    return bridge


def forward(tenant: Tenant, topic: Topic, payload: bytes) -> None:
    bridge = bridge_for(tenant)
    if bridge is not None:
        bridge.publish(bridge.settings.topic_prefix + str(topic), payload)


def flush_all(timeout: float = 5.0) -> bool:
    with _lock:
        bridges = list(_bridges.values())
    return all(bridge.flush(timeout) for bridge in bridges)


def stop_all() -> None:
    with _lock:
        bridges = list(_bridges.values())
        _bridges.clear()
    for bridge in bridges:
        bridge.stop()


def flush_and_stop_all(**_signal_arguments: Any) -> None:
    """Flush every bridge of this process, then stop them: what it does before exiting."""
    if not flush_all(timeout=EXIT_FLUSH_SECONDS):
        logger.warning("MQTT events were still unacknowledged after %g s at exit", EXIT_FLUSH_SECONDS)
    stop_all()


# Nothing to do in a process that opened no bridge. A Celery pool process ends with
# os._exit, which runs no atexit handler: it has its own signal.
atexit.register(flush_and_stop_all)
worker_process_shutdown.connect(flush_and_stop_all, weak=False)

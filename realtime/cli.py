"""`sogoms push publish|notify|broadcast`: send a push event from the command line.

With REDIS_URL the event reaches the sockets of every server process; in the embedded
default (in-memory layer) only sockets of this process exist, i.e. none: the command
then still sends over MQTT, and says so.
"""

from __future__ import annotations

import json

from django.conf import settings

from realtime import mqtt, services
from sogoms_site.commands import Options, Out, Subparsers
from sogoms_site.errors import DomainError
from tenants.cli import tenant_or_report


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("push", help="send a push event (WebSocket and MQTT)")
    actions = parser.add_subparsers(dest="push_action", required=True, metavar="action")
    publish = actions.add_parser(
        "publish", help="send on a topic: <app>/user/<id>/<channel> or <app>/broadcast/<channel>"
    )
    publish.add_argument("app")
    publish.add_argument("topic")
    notify = actions.add_parser("notify", help="send to one user: <app>/user/<user_id>/<channel>")
    notify.add_argument("app")
    notify.add_argument("user_id", type=int)
    notify.add_argument("channel")
    broadcast = actions.add_parser("broadcast", help="send to every user: <app>/broadcast/<channel>")
    broadcast.add_argument("app")
    broadcast.add_argument("channel")
    for action in (publish, notify, broadcast):
        action.add_argument("--data", default="{}", help="the event's data, JSON (default {})")
        action.set_defaults(handler=run)


def run(options: Options, out: Out) -> int:
    tenant = tenant_or_report(options["app"], out)
    if tenant is None:
        return 2
    try:
        data = json.loads(options["data"])
    except ValueError as exc:
        out.write(f"--data is not JSON: {exc}")
        return 1
    action = options["push_action"]
    try:
        if action == "publish":
            frame = services.publish(app=tenant.app, topic=options["topic"], data=data)
        elif action == "notify":
            frame = services.notify_user(
                app=tenant.app, user_id=options["user_id"], channel=options["channel"], data=data
            )
        else:
            frame = services.broadcast(app=tenant.app, channel=options["channel"], data=data)
    except DomainError as exc:
        out.write(f"refused: {exc.message}")
        return 1
    delivered = mqtt.flush_all(timeout=5.0)
    mqtt.stop_all()
    out.write(f"sent {frame['id']} on {frame['topic']}")
    if "Redis" not in settings.CHANNEL_LAYERS["default"]["BACKEND"]:
        out.write("note: no REDIS_URL, so no server process shares this command's channel layer")
    if not delivered:
        out.write("warning: the MQTT broker did not acknowledge the event within 5 s")
        return 1
    return 0

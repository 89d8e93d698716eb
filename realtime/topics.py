"""Push topics: `<app>/user/<user_id>/<channel>` and `<app>/broadcast/<channel>`.

A topic is what clients and MQTT see; a Channels group name is what the channel layer
sees. Group names allow only ASCII letters, digits, `-`, `_` and `.`, under 100
characters, so the mapping is explicit here rather than left to string formatting.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# Channels every tenant has, besides its resource names and the channels of its push config.
DEFAULT_CHANNELS = ("notifications", "tasks", "projects", "comments")
CHANNEL = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
APP = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_TOPIC_LENGTH = 200
_GROUP_LIMIT = 99  # Channels refuses names of 100 characters or more


class TopicError(ValueError):
    """A topic that is not one of the two shapes."""


@dataclass(frozen=True, slots=True)
class Topic:
    app: str
    channel: str
    user_id: int | None = None  # None: the broadcast topic of the channel

    @property
    def is_broadcast(self) -> bool:
        return self.user_id is None

    def __str__(self) -> str:
        if self.user_id is None:
            return f"{self.app}/broadcast/{self.channel}"
        return f"{self.app}/user/{self.user_id}/{self.channel}"

    @property
    def group(self) -> str:
        """The Channels group of this topic (a hash when the readable name is too long)."""
        if self.user_id is None:
            name = f"push.{self.app}.broadcast.{self.channel}"
        else:
            name = f"push.{self.app}.user.{self.user_id}.{self.channel}"
        if len(name) > _GROUP_LIMIT:
            name = "push.h." + hashlib.sha256(str(self).encode()).hexdigest()[:40]
        return name


def user_topic(app: str, user_id: int, channel: str) -> Topic:
    return _checked(Topic(app, channel, user_id))


def broadcast_topic(app: str, channel: str) -> Topic:
    return _checked(Topic(app, channel, None))


def parse_topic(text: object) -> Topic:
    """The topic a string names; raises TopicError with the reason for people."""
    if not isinstance(text, str) or not text:
        raise TopicError("topic must be a non-empty string")
    if len(text) > MAX_TOPIC_LENGTH:
        raise TopicError(f"topic is longer than {MAX_TOPIC_LENGTH} characters")
    parts = text.split("/")
    if len(parts) == 3 and parts[1] == "broadcast":
        return broadcast_topic(parts[0], parts[2])
    if len(parts) == 4 and parts[1] == "user":
        if not parts[2].isascii() or not parts[2].isdigit() or len(parts[2]) > 18:
            raise TopicError(f"{parts[2]!r} is not a user id")
        return user_topic(parts[0], int(parts[2]), parts[3])
    raise TopicError("topic must be <app>/user/<user_id>/<channel> or <app>/broadcast/<channel>")


def _checked(topic: Topic) -> Topic:
    if not APP.match(topic.app):
        raise TopicError(f"{topic.app!r} is not an app name")
    if not CHANNEL.match(topic.channel):
        raise TopicError(f"{topic.channel!r} is not a channel name (letters, digits, _ and -, at most 64)")
    if topic.user_id is not None and topic.user_id < 0:
        raise TopicError("a user id is not negative")
    return topic

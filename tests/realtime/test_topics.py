"""Topics and their Channels group names."""

from __future__ import annotations

import re

import pytest

from realtime.topics import TopicError, broadcast_topic, parse_topic, user_topic

GROUP = re.compile(r"^[A-Za-z0-9._-]{1,99}$")


def test_a_user_topic_reads_back_as_itself():
    topic = parse_topic("alpha/user/7/projects")
    assert (topic.app, topic.user_id, topic.channel) == ("alpha", 7, "projects")
    assert str(topic) == "alpha/user/7/projects"


def test_a_broadcast_topic_has_no_user():
    topic = parse_topic("alpha/broadcast/notifications")
    assert topic.is_broadcast and topic.user_id is None


@pytest.mark.parametrize(
    "text",
    ["", "alpha", "alpha/user/x/tasks", "alpha/user/-1/tasks", "alpha/user/1", "Alpha/broadcast/x",
     "alpha/broadcast/a b", "alpha/broadcast/é", "alpha/other/1/x", "alpha/user/1/tasks/extra", 42, None],
)  # fmt: skip
def test_a_topic_of_another_shape_is_refused(text):
    with pytest.raises(TopicError):
        parse_topic(text)


def test_group_names_are_valid_channels_groups_even_for_long_topics():
    topics = [
        user_topic("alpha", 1, "tasks"),
        broadcast_topic("alpha", "notifications"),
        user_topic("a" * 40, 10**17, "c" * 64),
        broadcast_topic("b" * 40, "d" * 64),
    ]
    groups = [topic.group for topic in topics]
    assert all(GROUP.match(group) for group in groups), groups
    assert len(set(groups)) == len(groups)


def test_the_same_channel_for_two_users_or_two_apps_is_two_groups():
    assert user_topic("alpha", 1, "tasks").group != user_topic("alpha", 2, "tasks").group
    assert broadcast_topic("alpha", "tasks").group != broadcast_topic("beta", "tasks").group

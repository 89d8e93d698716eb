"""Topics: their two shapes and what is refused."""

from __future__ import annotations

import pytest

from realtime.topics import TopicError, parse_topic


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

"""StrictInput: unknown and read-only keys refused; fields built once per class, not per request."""

from __future__ import annotations

import threading

from rest_framework import serializers

from sogoms_site.api.inputs import StrictInput


class Item(StrictInput):
    name = serializers.CharField(max_length=5)
    count = serializers.IntegerField(min_value=0)
    read_only_names = frozenset({"id"})


def test_unknown_and_read_only_keys_are_refused_with_the_field_errors():
    form = Item(data={"name": "toolong", "count": 1, "id": 3, "role": "admin"})
    assert not form.is_valid()
    assert set(form.errors) == {"name", "id", "role"}
    assert form.errors["id"] == ["read-only field"]
    assert form.errors["role"] == ["unknown field"]


def test_instances_share_one_set_of_fields():
    first, second = Item(data={}), Item(data={})
    assert first.fields is second.fields
    assert first.fields["name"] is second.fields["name"]


def test_a_subclass_has_fields_of_its_own():
    class Bigger(Item):
        extra = serializers.BooleanField()

    assert set(Bigger(data={}).fields) == {"name", "count", "extra"}
    assert set(Item(data={}).fields) == {"name", "count"}


def test_partial_or_context_instances_get_their_own_fields():
    shared = Item(data={}).fields
    assert Item(data={}, partial=True).fields is not shared
    assert Item(data={}, context={"request": None}).fields is not shared
    patch = Item(data={"count": 2}, partial=True)
    assert patch.is_valid(), patch.errors
    assert dict(patch.validated_data) == {"count": 2}


def test_shared_fields_validate_each_request_on_its_own_across_threads():
    failures: list[str] = []

    def check(n: int) -> None:
        for i in range(300):
            good = Item(data={"name": f"n{n}", "count": i})
            bad = Item(data={"name": "far too long", "count": -i - 1})
            if not good.is_valid() or dict(good.validated_data) != {"name": f"n{n}", "count": i}:
                failures.append(f"good {n}/{i}: {good.errors}")
            if bad.is_valid() or set(bad.errors) != {"name", "count"}:
                failures.append(f"bad {n}/{i}: {bad.errors}")

    threads = [threading.Thread(target=check, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []

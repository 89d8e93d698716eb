"""sogoms_site.db.bulk: many rows in one INSERT ... RETURNING per chunk, stored as bulk_create stores them."""

import datetime

import pytest
from django.db import connections
from django.db.models import Value
from django.db.models.functions import Now
from django.db.models.sql.compiler import SQLInsertCompiler
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mail.models import OutboxMessage
from sogoms_site.db.bulk import insert_rows

pytestmark = pytest.mark.django_db

SENDER = "Alpha <noreply@alpha.test>"
# what the database fills in or the ORM stamps: equal only between rows made the same way
OWN = {"id", "created_at", "updated_at"}


def messages(count: int, **overrides) -> list[OutboxMessage]:
    when = timezone.now().replace(microsecond=123456)
    return [
        OutboxMessage(
            app="alpha",
            template="digest",
            batch="b1",
            to_email=f"u{number}@example.com",
            to_name="" if number % 2 else f"User {number}",
            from_email=SENDER,
            subject=f"Issue #{number}: 'quotes' and \\ backslashes",
            body_text=f"Hello {number}\n\u00e9\u00e8 \U0001f600",
            body_html="" if number % 3 else "<p>hi</p>",
            dedupe_key=None if number % 2 else f"key-{number}",
            redacted=bool(number % 2),
            max_attempts=6,
            next_attempt_at=when + datetime.timedelta(seconds=number),
            **overrides,
        )
        for number in range(count)
    ]


def stored(ids: list[int]) -> list[dict]:
    rows = OutboxMessage.objects.filter(pk__in=ids).order_by("id").values()
    return [{name: value for name, value in row.items() if name not in OWN} for row in rows]


def test_rows_are_stored_as_bulk_create_stores_them_with_their_keys_in_order():
    ours = messages(7)
    theirs = messages(7)
    for row in theirs:  # the key is unique: the twin rows get their own
        row.dedupe_key = row.dedupe_key and f"x{row.dedupe_key}"
    OutboxMessage.objects.bulk_create(theirs)
    with CaptureQueriesContext(connections["default"]) as queries:
        saved = insert_rows(OutboxMessage, ours, using="default", chunk=3)

    assert saved == ours and len(queries) == 3  # 3 + 3 + 1
    keys = [row.pk for row in ours]
    assert None not in keys and keys == sorted(keys)
    assert all(not row._state.adding and row._state.db == "default" for row in ours)
    found = dict(OutboxMessage.objects.filter(pk__in=keys).values_list("pk", "to_email"))
    assert [found[row.pk] for row in ours] == [f"u{number}@example.com" for number in range(7)]
    mine, reference = stored(keys), stored([row.pk for row in theirs])
    for row in reference:
        row["dedupe_key"] = row["dedupe_key"] and row["dedupe_key"][1:]
    assert mine == reference
    stamps = OutboxMessage.objects.filter(pk__in=keys).values_list("created_at", flat=True)
    assert all(stamp is not None for stamp in stamps)


def test_the_statement_is_built_without_the_orms_insert_compiler(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("went through the ORM's insert compiler")

    monkeypatch.setattr(SQLInsertCompiler, "as_sql", refuse)
    rows = insert_rows(OutboxMessage, messages(4), using="default", chunk=1000)

    assert OutboxMessage.objects.filter(pk__in=[row.pk for row in rows]).count() == 4


def test_an_expression_among_the_values_goes_to_bulk_create():
    rows = messages(3, sent_at=Now())
    rows[1].to_name = Value("Expressed")
    saved = insert_rows(OutboxMessage, rows, using="default", chunk=1000)

    names = dict(OutboxMessage.objects.filter(pk__in=[row.pk for row in saved]).values_list("pk", "to_name"))
    assert names[saved[1].pk] == "Expressed"
    assert all(
        sent is not None
        for sent in OutboxMessage.objects.filter(pk__in=[row.pk for row in saved]).values_list(
            "sent_at", flat=True
        )
    )


def test_a_row_with_its_key_already_set_goes_to_bulk_create():
    rows = messages(2)
    rows[0].pk = 987654
    saved = insert_rows(OutboxMessage, rows, using="default", chunk=1000)

    assert saved[0].pk == 987654 and OutboxMessage.objects.filter(pk=987654).exists()


def test_no_rows_is_no_statement():
    with CaptureQueriesContext(connections["default"]) as queries:
        assert insert_rows(OutboxMessage, [], using="default", chunk=10) == []
    assert len(queries) == 0

"""Access rules in schema YAML (crud.access), on tenant gamma (tests/config/schema/gamma.yaml).

gamma has the roles default, editor and admin. alice is an editor, bob a default user,
dora an admin, all of gamma; alpha's users are strangers to it. products are public to
read and admin-only to write; reviews public to read, written by their owner; posts
public once published, drafts only their author's; notices visible once published, to
an audience role, or to admins; comments keep the default owner rule.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from rest_framework.test import APIClient

from crud import compiled
from crud.access.grammar import RuleSyntaxError, parse
from crud.runtime import existing_resource
from tenants.registry import registry
from tests.conftest import TenantApi, create_user, data_of, error_of
from tests.crud.test_schema_config import SCHEMA_FILE, Site, problems_at, resources, schema_with

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def gamma():
    return registry().get("gamma")


@pytest.fixture
def api(gamma):
    return TenantApi(gamma, APIClient(), "gamma.test")


@pytest.fixture
def alice(gamma):
    return create_user(gamma, "alice@example.com", name="Alice", role="editor")


@pytest.fixture
def bob(gamma):
    return create_user(gamma, "bob@example.com", name="Bob")


@pytest.fixture
def dora(gamma):
    return create_user(gamma, "dora@example.com", name="Dora", role="admin")


@pytest.fixture
def tokens(api, alice, bob, dora):
    return {name: api.token_for(f"{name}@example.com") for name in ("alice", "bob", "dora")}


def rows(gamma, table: str, **values):
    return existing_resource(gamma, table).model.objects.create(**values)


def ids(response) -> list[int]:
    return sorted(row["id"] for row in data_of(response))


# --- public reads, roles and owner -------------------------------------------------------------


def test_public_lists_and_rows_need_no_token(api, gamma):
    lamp = rows(gamma, "products", name="Lamp", price="9.50", cost="4.00")

    listed = data_of(api.get("products"))
    shown = data_of(api.get(f"products/{lamp.id}"))

    assert [row["name"] for row in listed] == ["Lamp"]
    assert shown["price"] == "9.50"


def test_without_a_token_only_public_operations_pass(api, gamma, tokens):
    lamp = rows(gamma, "products", name="Lamp")

    error_of(api.post("products", {"name": "Chair"}), 401, "UNAUTHORIZED")
    error_of(api.call("delete", f"products/{lamp.id}"), 401, "UNAUTHORIZED")
    error_of(api.get("comments"), 401, "UNAUTHORIZED")  # the default rule needs a user
    error_of(api.post("reviews", {"product_id": lamp.id, "stars": 4}), 401, "UNAUTHORIZED")


def test_a_role_rule_refuses_other_roles_with_403(api, tokens):
    error_of(api.post("products", {"name": "Chair"}, token=tokens["bob"]), 403, "FORBIDDEN")
    error_of(api.post("products", {"name": "Chair"}, token=tokens["alice"]), 403, "FORBIDDEN")

    created = data_of(api.post("products", {"name": "Chair"}, token=tokens["dora"]), 201)

    assert created["name"] == "Chair"


def test_editors_create_posts_default_users_cannot(api, tokens):
    error_of(api.post("posts", {"title": "Hello"}, token=tokens["bob"]), 403, "FORBIDDEN")

    created = data_of(api.post("posts", {"title": "Hello"}, token=tokens["alice"]), 201)

    assert created["published"] is False


def test_a_new_row_must_meet_the_create_rules_conditions(api, tokens):
    # editors write drafts; publishing at once is for admins
    error_of(api.post("posts", {"title": "Out", "published": True}, token=tokens["alice"]), 403, "FORBIDDEN")

    published = data_of(api.post("posts", {"title": "Out", "published": True}, token=tokens["dora"]), 201)

    assert published["published"] is True


def test_drafts_are_their_authors_published_posts_everyones(api, gamma, alice, bob, tokens):
    draft = rows(gamma, "posts", user_id=alice.id, title="Draft")
    public = rows(gamma, "posts", user_id=alice.id, title="Out", published=True)

    assert ids(api.get("posts")) == [public.id]
    assert ids(api.get("posts", token=tokens["bob"])) == [public.id]
    assert ids(api.get("posts", token=tokens["alice"])) == [draft.id, public.id]
    error_of(api.get(f"posts/{draft.id}", token=tokens["bob"]), 404, "NOT_FOUND")
    error_of(api.get(f"posts/{draft.id}"), 404, "NOT_FOUND")
    assert data_of(api.get(f"posts/{draft.id}", token=tokens["alice"]))["title"] == "Draft"


def test_owner_rules_on_public_rows(api, gamma, alice, bob, tokens):
    lamp = rows(gamma, "products", name="Lamp")
    review = data_of(api.post("reviews", {"product_id": lamp.id, "stars": 4}, token=tokens["bob"]), 201)

    # visible to alice, not hers: 403; hers to change: bob
    error_of(api.call("patch", f"reviews/{review['id']}", {"stars": 1}, tokens["alice"]), 403, "FORBIDDEN")
    error_of(api.call("delete", f"reviews/{review['id']}", None, tokens["alice"]), 403, "FORBIDDEN")
    changed = data_of(api.call("patch", f"reviews/{review['id']}", {"stars": 5}, tokens["bob"]))
    assert changed["stars"] == 5
    assert review["user_id"] == bob.id
    # `owner or role(admin)`: an admin deletes anyone's review
    assert data_of(api.call("delete", f"reviews/{review['id']}", None, tokens["dora"])) == {
        "affected_rows": 1
    }


def test_update_of_a_row_not_visible_is_404(api, gamma, alice, tokens):
    draft = rows(gamma, "posts", user_id=alice.id, title="Draft")

    error_of(api.call("patch", f"posts/{draft.id}", {"title": "Mine"}, tokens["bob"]), 404, "NOT_FOUND")
    error_of(api.call("delete", f"posts/{draft.id}", None, tokens["bob"]), 404, "NOT_FOUND")


def test_update_needs_the_rule_before_and_after(api, gamma, alice, tokens):
    post = rows(gamma, "posts", user_id=alice.id, title="Draft")
    archived = rows(gamma, "posts", user_id=alice.id, title="Old", archived_at=datetime.now(UTC))

    # after: the change would make the row one the update rule refuses
    refused = api.call("patch", f"posts/{post.id}", {"archived_at": "2026-01-01T00:00:00Z"}, tokens["alice"])
    error_of(refused, 403, "FORBIDDEN")
    # before: an archived row is no longer the author's to change
    error_of(api.call("patch", f"posts/{archived.id}", {"title": "New"}, tokens["alice"]), 403, "FORBIDDEN")

    changed = data_of(api.call("patch", f"posts/{post.id}", {"title": "Better"}, tokens["alice"]))
    post.refresh_from_db()
    assert changed["title"] == post.title == "Better"
    assert post.archived_at is None


def test_another_tenants_token_is_refused(api, gamma):
    stranger = create_user(registry().get("alpha"), "eve@example.com")
    from tests.conftest import go_token

    token = go_token(gamma, stranger, app="alpha")
    error_of(api.post("reviews", {"product_id": 1, "stars": 3}, token=token), 401, "UNAUTHORIZED")


# --- null, @now, not, parentheses, @user.role ----------------------------------------------------------


@pytest.fixture
def notices(gamma):
    now = datetime.now(UTC)
    return {
        "out": rows(gamma, "notices", title="Out", published_at=now - timedelta(hours=1)),
        "later": rows(gamma, "notices", title="Later", published_at=now + timedelta(hours=1)),
        "never": rows(gamma, "notices", title="Never"),
        "editors": rows(gamma, "notices", title="Editors", audience="editor"),
        "staff": rows(
            gamma, "notices", title="Staff", published_at=now - timedelta(hours=1), audience="staff"
        ),
    }


def test_now_null_not_and_user_role_in_one_rule(api, notices, tokens):
    def titles(response) -> list[str]:
        return [row["title"] for row in data_of(response)]

    # published in the past (null is never past), no audience (not (audience != null))
    assert titles(api.get("notices")) == ["Out"]
    assert titles(api.get("notices", token=tokens["bob"])) == ["Out"]
    # audience == @user.role: the editors' notice, published or not
    assert titles(api.get("notices", token=tokens["alice"])) == ["Out", "Editors"]
    assert len(data_of(api.get("notices", token=tokens["dora"]))) == 5
    error_of(api.get(f"notices/{notices['later'].id}", token=tokens["bob"]), 404, "NOT_FOUND")
    error_of(api.get(f"notices/{notices['editors'].id}", token=tokens["bob"]), 404, "NOT_FOUND")
    assert data_of(api.get(f"notices/{notices['editors'].id}", token=tokens["alice"]))["title"] == "Editors"


def test_a_row_appears_once_its_time_has_come(api, gamma, notices):
    notice = notices["later"]
    assert notice.id not in ids(api.get("notices"))

    notice.published_at = datetime.now(UTC) - timedelta(seconds=1)
    notice.save()

    # @now is read anew on each request: no cached SQL holds yesterday's time
    assert notice.id in ids(api.get("notices"))


def test_cached_reads_never_carry_one_callers_rule_to_another(api, gamma, alice, tokens):
    compiled.clear()
    draft = rows(gamma, "posts", user_id=alice.id, title="Draft")

    assert ids(api.get("posts", token=tokens["alice"])) == [draft.id]
    assert ids(api.get("posts", token=tokens["bob"])) == []
    assert ids(api.get("posts")) == []
    assert data_of(api.get(f"posts/{draft.id}", token=tokens["alice"]))["id"] == draft.id
    error_of(api.get(f"posts/{draft.id}", token=tokens["bob"]), 404, "NOT_FOUND")
    error_of(api.get(f"posts/{draft.id}"), 404, "NOT_FOUND")


# --- field rules ------------------------------------------------------------------------------------------


def test_a_field_not_readable_is_left_out_and_cannot_be_filtered(api, gamma, tokens):
    lamp = rows(gamma, "products", name="Lamp", cost="4.00")

    assert "cost" not in data_of(api.get(f"products/{lamp.id}", token=tokens["bob"]))
    assert "cost" not in data_of(api.get("products"))[0]
    assert data_of(api.get(f"products/{lamp.id}", token=tokens["dora"]))["cost"] == "4.00"
    error_of(api.get("products?filter[cost]=4", token=tokens["bob"]), 400, "VALIDATION_ERROR")
    error_of(api.get("products?sort=cost"), 400, "VALIDATION_ERROR")
    assert data_of(api.get("products?filter[cost]=4", token=tokens["dora"]))[0]["id"] == lamp.id


def test_a_field_not_writable_is_refused_by_name(api, gamma, tokens):
    lamp = rows(gamma, "products", name="Lamp")

    error = error_of(
        api.post("reviews", {"product_id": lamp.id, "stars": 2, "flagged": True}, token=tokens["bob"]),
        400,
        "VALIDATION_ERROR",
    )
    assert list(error["details"]) == ["flagged"]
    review = data_of(api.post("reviews", {"product_id": lamp.id, "stars": 2}, token=tokens["bob"]), 201)
    flagged = data_of(
        api.post("reviews", {"product_id": lamp.id, "stars": 1, "flagged": True}, token=tokens["dora"]), 201
    )
    assert flagged["flagged"] is True
    # read: auth: an anonymous reader does not see the flag
    assert "flagged" not in data_of(api.get(f"reviews/{review['id']}"))
    assert data_of(api.get(f"reviews/{review['id']}", token=tokens["bob"]))["flagged"] is False


def test_a_named_filter_on_a_field_not_readable_is_refused(api, gamma, tokens):
    lamp = rows(gamma, "products", name="Lamp")
    data_of(api.post("reviews", {"product_id": lamp.id, "stars": 2}, token=tokens["bob"]), 201)
    flagged = data_of(
        api.post("reviews", {"product_id": lamp.id, "stars": 1, "flagged": True}, token=tokens["dora"]), 201
    )

    # read: auth: which reviews are flagged is not for anonymous readers to learn by filtering
    error = error_of(api.get("reviews?filter=flagged"), 400, "VALIDATION_ERROR")
    assert error["details"] == {"filter": ["'flagged' filters on a field you may not read"]}
    assert [row["id"] for row in data_of(api.get("reviews?filter=flagged", token=tokens["bob"]))] == [
        flagged["id"]
    ]


# --- includes, foreign keys, login lists -----------------------------------------------------------------


def test_included_rows_follow_their_own_rules(api, gamma, alice, bob, tokens):
    draft = rows(gamma, "posts", user_id=alice.id, title="Draft")
    public = rows(gamma, "posts", user_id=alice.id, title="Out", published=True)
    mine = rows(gamma, "comments", user_id=bob.id, post_id=public.id, body="bob's")
    rows(gamma, "comments", user_id=alice.id, post_id=public.id, body="alice's")
    on_draft = rows(gamma, "comments", user_id=bob.id, post_id=draft.id, body="before it was hidden")

    post = data_of(api.get(f"posts/{public.id}?include=comments", token=tokens["bob"]))
    listed = {row["id"]: row for row in data_of(api.get("comments?include=post", token=tokens["bob"]))}

    assert [comment["id"] for comment in post["comments"]] == [mine.id]  # comments: owner rule
    assert listed[mine.id]["post"]["title"] == "Out"
    assert listed[on_draft.id]["post"] is None  # the draft is not bob's to view


def test_a_reference_may_point_only_at_rows_the_caller_may_view(api, gamma, alice, tokens):
    draft = rows(gamma, "posts", user_id=alice.id, title="Draft")
    public = rows(gamma, "posts", user_id=alice.id, title="Out", published=True)

    error = error_of(
        api.post("comments", {"post_id": draft.id, "body": "hi"}, token=tokens["bob"]),
        400,
        "VALIDATION_ERROR",
    )
    assert "post_id" in error["details"]
    data_of(api.post("comments", {"post_id": public.id, "body": "hi"}, token=tokens["bob"]), 201)


def test_login_lists_follow_the_list_rules(api, gamma, alice, bob, notices):
    rows(gamma, "posts", user_id=alice.id, title="Alice's", published=True)
    own = rows(gamma, "posts", user_id=bob.id, title="Bob's draft")

    data = data_of(api.login("bob@example.com"))

    assert [post["id"] for post in data["posts"]] == [own.id]  # the user's own rows
    assert [notice["title"] for notice in data["notices"]] == ["Out"]  # the rule's rows for role default
    editor = data_of(api.login("alice@example.com"))
    assert [notice["title"] for notice in editor["notices"]] == ["Out", "Editors"]


# --- self-description -----------------------------------------------------------------------------------


def test_the_dictionary_shows_each_rule_as_written(api, tokens):
    table = data_of(api.get("_schema/posts", token=tokens["dora"]))
    products = data_of(api.get("_schema/products", token=tokens["dora"]))
    comments = data_of(api.get("_schema/comments", token=tokens["dora"]))

    assert table["access"]["list"] == "published == true or owner"
    assert table["access"]["delete"] == "owner or role(admin)"  # the default, not written
    assert comments["access"]["view"] == "owner or role(admin)"
    assert {f["name"]: f for f in products["fields"]}["cost"]["read"] == "role(admin)"


def test_openapi_says_which_operations_need_a_token(api):
    document = api.get("_openapi").json()
    products, item = document["paths"]["/products"], document["paths"]["/products/{id}"]

    assert {} in products["get"]["security"]
    assert {} in item["get"]["security"]
    assert "security" not in products["post"]  # the document's default: a token
    assert "403" in products["post"]["responses"]
    assert "403" not in products["get"]["responses"]
    assert "security" not in document["paths"]["/comments"]["get"]


# --- config problems, with file and key path ---------------------------------------------------------


@pytest.fixture
def site(tmp_path) -> Site:
    return Site(tmp_path)


POSTS = """\
posts:
  fields:
    id: { type: int, primary: true, auto: true }
    user_id: { type: int, foreign: users.id, filter: owner }
    title: { type: string }
    published: { type: bool, default: false }
    secret: { type: string, hidden: true }
  crud: [list, show]
"""
TAGS = "tags:\n  fields:\n    id: { type: int, primary: true }\n    name: { type: string }\n  crud: [list]\n"


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [
        (
            POSTS + "  access: { list: 'colour == 1' }\n",
            "tables.posts.access.list",
            "'colour' is not a field",
        ),
        (POSTS + "  access: { list: 'role(editor)' }\n", "tables.posts.access.list", "editor is not a role"),
        (POSTS + "  access: { view: 'secret != null' }\n", "tables.posts.access.view", "hidden field"),
        (
            POSTS + "  access: { list: \"published == 'yes'\" }\n",
            "tables.posts.access.list",
            "is not a value",
        ),
        (POSTS + "  access: { list: 'title > 3' }\n", "tables.posts.access.list", "is not a value"),
        (POSTS + "  access: { list: 'published < true' }\n", "tables.posts.access.list", "does not apply"),
        (POSTS + "  access: { list: 'title == @now' }\n", "tables.posts.access.list", "@now cannot"),
        (POSTS + "  access: { list: 'owner and' }\n", "tables.posts.access.list", "is not a rule"),
        (TAGS + "  access: { list: owner }\n", "tables.tags.access.list", "owner field"),
        (
            TAGS.replace("name: { type: string }", "name: { type: string, read: 'name == 1' }"),
            "tables.tags.fields.name.read",
            "caller only",
        ),
    ],
)
def test_a_bad_rule_is_refused_at_load_with_file_and_key(site: Site, table, key, words):
    site.schema(schema_with(table))

    (problem,) = problems_at(site.load(), SCHEMA_FILE, key)

    assert words in problem.message


def test_a_valid_rule_loads_with_typed_values(site: Site):
    site.schema(
        schema_with(POSTS + "  access: { list: 'published == true or (owner and not (title == null))' }\n")
    )

    rule = resources(site.load())["posts"].access["list"]

    assert rule.source == "published == true or (owner and not (title == null))"


@pytest.mark.parametrize(
    "text", ["", "owner or", "(owner", "role()", "x === 1", "x == @user.email", "a == 'x"]
)
def test_the_parser_refuses_what_is_not_a_rule(text):
    with pytest.raises(RuleSyntaxError):
        parse(text)


# --- push events ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_push_events_reach_only_sockets_whose_user_may_view_the_row(gamma, alice, bob):
    from channels.layers import channel_layers

    from crud import services
    from tests.realtime.conftest import access_token, empty_tenant_tables, frame, open_socket, run, subscribe

    channel_layers.backends.clear()
    posts = existing_resource(gamma, "posts")

    def as_user(user):
        from tenants.auth.principal import TenantPrincipal

        return TenantPrincipal.of_user(user, "gamma")

    async def scenario():
        author = await open_socket("gamma.test", await sync_to_async(access_token)(gamma, alice))
        reader = await open_socket("gamma.test", await sync_to_async(access_token)(gamma, bob))
        await subscribe(author, f"gamma/user/{alice.id}/posts")
        await subscribe(reader, "gamma/broadcast/posts", f"gamma/user/{bob.id}/posts")
        draft = await sync_to_async(services.record_create)(
            bound=posts, caller=as_user(alice), data={"title": "Draft"}
        )
        created = await frame(author)
        quiet = await reader.receive_nothing(timeout=0.5)
        await sync_to_async(services.record_update)(
            bound=posts, caller=as_user(alice), pk=draft["id"], data={"published": True}, partial=True
        )
        published = await asyncio.gather(frame(author), frame(reader))
        await author.disconnect()
        await reader.disconnect()
        return created, quiet, published

    try:
        created, quiet, (to_author, to_reader) = run(scenario())
    finally:
        channel_layers.backends.clear()
        empty_tenant_tables()
    assert created["topic"] == f"gamma/user/{alice.id}/posts"
    assert created["data"]["action"] == "create"
    assert quiet  # the draft went to no one else
    assert to_reader["topic"] == "gamma/broadcast/posts"
    assert to_reader["data"]["action"] == to_author["data"]["action"] == "update"


def test_push_decides_by_the_view_rule_on_the_row(gamma, alice, bob, monkeypatch):
    from crud.events import DomainEvent
    from realtime import events

    sent: list[str] = []
    monkeypatch.setattr(events.services, "publish", lambda *, app, topic, data: sent.append(str(topic)))

    events.publish_crud_event(
        DomainEvent("gamma", "posts", "create", 1, alice.id, row={"user_id": alice.id, "published": False})
    )
    assert sent == [f"gamma/user/{alice.id}/posts"]
    sent.clear()
    # notices: no owner; an audience row is not for every signed-in user
    events.publish_crud_event(
        DomainEvent("gamma", "notices", "create", 1, bob.id, row={"audience": "editor", "published_at": None})
    )
    assert sent == []
    events.publish_crud_event(DomainEvent("gamma", "posts", "update", 1, alice.id))  # no row: no one
    assert sent == []

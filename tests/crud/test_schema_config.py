"""Resource config problems: schema YAML and v1 query YAML, each named by file and key path.

Each test writes a throw-away config dir (routes/<app>.yaml with a 40-byte JWT secret,
plus schema/<app>.yaml or queries/<app>/*.yaml) and runs the one config loader with the
crud section, as the server does at start. No database is touched.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from crud.config import load_resources, resources_of
from crud.resource import LinkSpec
from tenants.config.loader import ConfigProblem, LoadOptions, LoadResult, load_config

APP = "shop"
SCHEMA_FILE = f"schema/{APP}.yaml"
ROUTES_FILE = f"routes/{APP}.yaml"

USERS = """\
  users:
    fields:
      id: { type: int, primary: true, auto: true }
      email: { type: email, unique: true, auth: login }
      password: { type: string, auth: password, hidden: true }
      name: { type: string, max_length: 255 }
"""

VALID = (
    "tables:\n"
    + USERS
    + """\
  projects:
    fields:
      id: { type: int, primary: true, auto: true }
      user_id: { type: int, foreign: users.id, filter: owner }
      name: { type: string, required: true, max_length: 120 }
      color: { type: string, pattern: "^#[0-9a-f]{6}$", default: "#4f46e5" }
      archived: { type: bool, default: false }
    crud: [list, show, create, update, delete]
    search: [name]
    sort: [-name]
    indexes: [[user_id, name]]
    unique: [[user_id, name]]
    filters:
      active: { archived: { eq: false } }
  tags:
    fields:
      id: { type: int, primary: true, auto: true }
      user_id: { type: int, foreign: users.id, filter: owner }
      name: { type: string, required: true }
    crud: [list, show, create]
  tasks:
    fields:
      id: { type: bigint, primary: true, auto: true }
      user_id: { type: int, foreign: users.id, filter: owner }
      project_id: { type: int, foreign: projects.id, required: true, on_delete: cascade }
      title: { type: string, required: true }
      secret: { type: text, hidden: true }
    crud: [list, show]
    links:
      tags: { through: task_tags, target: tags }
  task_tags:
    fields:
      id: { type: int, primary: true, auto: true }
      task_id: { type: bigint, foreign: tasks.id, required: true }
      tag_id: { type: int, foreign: tags.id, required: true }
    timestamps: false
"""
)


class Site:
    """A throw-away config dir with one tenant, `shop`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "config"
        (self.config / "routes").mkdir(parents=True)
        (root / "secrets").mkdir()
        (root / "secrets" / "jwt").write_bytes(b"k" * 40)
        self.routes()

    def routes(self, login_includes: str = "") -> None:
        text = f"app: {APP}\nhosts: [{APP}.example]\nauth:\n  jwt_secret_file: secrets/jwt\n"
        if login_includes:
            text += f"  login_includes: {login_includes}\n"
        (self.config / "routes" / f"{APP}.yaml").write_text(text)

    def schema(self, text: str) -> None:
        path = self.config / "schema" / f"{APP}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(textwrap.dedent(text))

    def query_file(self, name: str, text: str) -> None:
        path = self.config / "queries" / APP / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))

    def load(self) -> LoadResult:
        return load_config(
            LoadOptions(
                config_dir=self.config,
                base_dir=self.root,
                var_dir=self.root,
                sections=(load_resources,),
            )
        )


@pytest.fixture
def site(tmp_path) -> Site:
    return Site(tmp_path)


def resources(result: LoadResult) -> dict:
    assert result.ok, [str(problem) for problem in result.problems]
    return resources_of(result.registry.get(APP))


def problems_at(result: LoadResult, file: str, key: str) -> list[ConfigProblem]:
    assert not result.ok
    assert result.registry is None
    found = [problem for problem in result.problems if (problem.file, problem.path) == (file, key)]
    assert found, [str(problem) for problem in result.problems]
    return found


THINGS = "things:\n  fields:\n    id: { type: int, primary: true }\n"  # a table to add fields to


def schema_with(table: str) -> str:
    """The users table plus one more table."""
    return "tables:\n" + USERS + textwrap.indent(textwrap.dedent(table), "  ")


# --- a valid schema ---------------------------------------------------------------------------


def test_a_valid_schema_compiles_to_resources(site):
    site.routes("[projects, tags]")
    site.schema(VALID)

    found = resources(site.load())

    assert set(found) == {"users", "projects", "tags", "tasks", "task_tags"}
    projects = found["projects"]
    assert projects.source == "schema"
    assert projects.operations == frozenset({"list", "show", "create", "update", "delete"})
    assert projects.owner_field.name == "user_id"
    assert projects.primary.name == "id"
    assert [spec.name for spec in projects.search_fields] == ["name"]
    assert projects.default_sort == ("-name",)
    assert projects.unique_together == (("user_id", "name"),)
    assert projects.named_filters == {"active": {"archived": {"eq": False}}}
    assert projects.field("color").default == "#4f46e5"
    assert projects.field("created_at").timestamp == "created"
    assert projects.field("updated_at").timestamp == "updated"
    assert found["task_tags"].field("created_at") is None
    assert found["tasks"].links == (LinkSpec("tags", "task_tags", "task_id", "tags", "tag_id"),)
    assert found["tasks"].field("project_id").foreign == ("projects", "id")
    assert not found["tasks"].field("secret").visible
    assert not found["users"].field("password").visible


def test_the_test_tenants_schema_compiles():
    from tenants.registry import registry

    found = resources_of(registry().get("alpha"))

    assert {"projects", "statuses", "tags", "tasks", "task_tags", "specimens"} <= set(found)
    assert found["tasks"].field("status_id").on_delete == "set_null"


# --- schema problems, each with its file and key path ------------------------------------------------


def test_an_unknown_field_type_is_reported(site):
    site.schema(schema_with(THINGS + "    size: { type: huge }\n"))

    (problem,) = problems_at(site.load(), SCHEMA_FILE, "tables.things.fields.size.type")

    assert "huge" in problem.message


def test_a_misspelt_key_is_reported_as_unknown(site):
    site.schema(schema_with(THINGS + "    n: { type: int, requird: true }\n"))

    (problem,) = problems_at(site.load(), SCHEMA_FILE, "tables.things.fields.n.requird")

    assert problem.message.startswith("unknown key")


def test_a_misspelt_table_key_is_reported_as_unknown(site):
    site.schema(schema_with(THINGS + "  crdu: [list]\n"))

    (problem,) = problems_at(site.load(), SCHEMA_FILE, "tables.things.crdu")

    assert problem.message.startswith("unknown key")


@pytest.mark.parametrize("target", ["nowhere.id", "users.nothing", "users"])
def test_a_foreign_key_to_a_missing_table_field_is_reported(site, target):
    site.schema(schema_with(THINGS + f"    ref: {{ type: int, foreign: {target} }}\n"))

    (problem,) = problems_at(site.load(), SCHEMA_FILE, "tables.things.fields.ref.foreign")

    assert target in problem.message


def test_a_foreign_key_to_a_field_that_is_neither_primary_nor_unique_is_reported(site):
    site.schema(schema_with(THINGS + "    ref: { type: string, foreign: users.name }\n"))

    problems_at(site.load(), SCHEMA_FILE, "tables.things.fields.ref.foreign")


@pytest.mark.parametrize("foreign", ["", ", foreign: things.id"])
def test_an_owner_field_must_be_a_foreign_key_to_users(site, foreign):
    site.schema(schema_with(THINGS + f"    owner_id: {{ type: int, filter: owner{foreign} }}\n"))

    (problem,) = problems_at(site.load(), SCHEMA_FILE, "tables.things.fields.owner_id.filter")

    assert "users.id" in problem.message


@pytest.mark.parametrize(
    "fields",
    [
        "    id: { type: int, primary: true }\n    other: { type: int, primary: true }\n",
        "    id: { type: int }\n    name: { type: string }\n",
    ],
)
def test_a_table_needs_exactly_one_primary_field(site, fields):
    site.schema(schema_with("things:\n  fields:\n" + fields))

    (problem,) = problems_at(site.load(), SCHEMA_FILE, "tables.things.fields")

    assert "exactly one primary" in problem.message


def test_a_pattern_that_is_not_a_regular_expression_is_reported(site):
    site.schema(schema_with(THINGS + "    code: { type: string, pattern: '^[a-z' }\n"))

    (problem,) = problems_at(site.load(), SCHEMA_FILE, "tables.things.fields.code.pattern")

    assert "regular expression" in problem.message


@pytest.mark.parametrize(("key", "value"), [("indexes", "[[id, missing]]"), ("unique", "[[missing]]")])
def test_an_index_naming_a_missing_field_is_reported(site, key, value):
    site.schema(schema_with(THINGS + f"  {key}: {value}\n"))

    (problem,) = problems_at(site.load(), SCHEMA_FILE, f"tables.things.{key}[0]")

    assert "missing" in problem.message


@pytest.mark.parametrize(("key", "value"), [("search", "[missing]"), ("sort", "[-missing]")])
def test_search_and_sort_naming_a_missing_field_are_reported(site, key, value):
    site.schema(schema_with(THINGS + f"  {key}: {value}\n"))

    problems_at(site.load(), SCHEMA_FILE, f"tables.things.{key}[0]")


def test_a_named_filter_with_an_unknown_operator_is_reported(site):
    site.schema(
        schema_with(THINGS + "    done: { type: bool }\n  filters:\n    open: { done: { equals: false } }\n")
    )

    (problem,) = problems_at(site.load(), SCHEMA_FILE, "tables.things.filters.open.done.equals")

    assert "operator" in problem.message


def test_a_named_filter_on_a_missing_field_is_reported(site):
    site.schema(schema_with(THINGS + "  filters:\n    open: { done: { eq: false } }\n"))

    problems_at(site.load(), SCHEMA_FILE, "tables.things.filters.open.done")


def test_a_link_through_a_table_without_both_foreign_keys_is_reported(site):
    site.schema(
        schema_with(
            """\
            tags:
              fields:
                id: { type: int, primary: true }
            things:
              fields:
                id: { type: int, primary: true }
              links:
                tags: { through: thing_tags, target: tags }
            thing_tags:
              fields:
                id: { type: int, primary: true }
                thing_id: { type: int, foreign: things.id }
                label: { type: string }
            """
        )
    )

    (problem,) = problems_at(site.load(), SCHEMA_FILE, "tables.things.links.tags")

    assert "thing_tags" in problem.message


@pytest.mark.parametrize(("key", "value"), [("through", "nothing"), ("target", "nothing")])
def test_a_link_to_a_missing_table_is_reported(site, key, value):
    through = value if key == "through" else "tags"
    target = value if key == "target" else "tags"
    site.schema(
        schema_with(
            "tags:\n  fields:\n    id: { type: int, primary: true }\n"
            + THINGS
            + f"  links:\n    tags: {{ through: {through}, target: {target} }}\n"
        )
    )

    problems_at(site.load(), SCHEMA_FILE, f"tables.things.links.tags.{key}")


def test_a_users_table_with_an_extra_column_is_reported(site):
    site.schema(
        VALID.replace(
            "      name: { type: string, max_length: 255 }\n",
            "      name: { type: string }\n      phone: { type: string }\n",
            1,
        )
    )

    (problem,) = problems_at(site.load(), SCHEMA_FILE, "tables.users.fields.phone")

    assert "built-in" in problem.message


def test_a_users_table_without_its_login_field_is_reported(site):
    site.schema(
        VALID.replace(
            "email: { type: email, unique: true, auth: login }", "email: { type: email, unique: true }"
        )
    )

    problems_at(site.load(), SCHEMA_FILE, "tables.users.fields.email")


@pytest.mark.parametrize("name", ["auth", "ws", "_schema"])
def test_a_reserved_route_name_cannot_be_a_table(site, name):
    site.schema(schema_with(f"{name}:\n  fields:\n    id: {{ type: int, primary: true }}\n  crud: [list]\n"))

    problems = problems_at(site.load(), SCHEMA_FILE, f"tables.{name}")

    assert any("reserved" in problem.message or "table name" in problem.message for problem in problems)


def test_a_set_null_foreign_key_cannot_be_required(site):
    site.schema(
        schema_with(
            THINGS + "    user_ref: { type: int, foreign: users.id, required: true, on_delete: set_null }\n"
        )
    )

    problems_at(site.load(), SCHEMA_FILE, "tables.things.fields.user_ref.on_delete")


def test_every_schema_problem_is_reported_at_once(site):
    site.schema(
        schema_with(
            """\
            things:
              fields:
                id: { type: int, primary: true }
                ref: { type: int, foreign: nowhere.id }
                code: { type: string, pattern: "(" }
              indexes: [[missing]]
            """
        )
    )

    result = site.load()

    keys = {problem.path for problem in result.problems}
    assert {
        "tables.things.fields.ref.foreign",
        "tables.things.fields.code.pattern",
        "tables.things.indexes[0]",
    } <= keys
    assert {problem.file for problem in result.problems} == {SCHEMA_FILE}


def test_login_includes_naming_a_missing_resource_is_reported_on_the_routes_file(site):
    site.routes("[projects, nothing]")
    site.schema(VALID)

    (problem,) = problems_at(site.load(), ROUTES_FILE, "auth.login_includes[1]")

    assert "nothing" in problem.message


def test_login_includes_naming_a_resource_without_a_list_is_reported(site):
    site.routes("[task_tags]")
    site.schema(VALID)

    problems_at(site.load(), ROUTES_FILE, "auth.login_includes[0]")


def test_login_includes_without_any_resource_is_reported(site):
    site.routes("[projects]")

    (problem,) = problems_at(site.load(), ROUTES_FILE, "auth.login_includes[0]")

    assert "projects" in problem.message


# --- v1 query YAML problems -------------------------------------------------------------------------

GOOD_QUERIES = """\
list:
  query: SELECT id, name FROM projects
  filters:
    default: "user_id = :user_id"
    admin: ""
  order: "id ASC"
show:
  query: SELECT id, name FROM projects WHERE id = :id
  filters:
    default: "user_id = :user_id"
create:
  table: projects
  fields: [user_id, name]
update:
  table: projects
  fields: [name]
  filters:
    default: "user_id = :user_id"
"""


def test_a_valid_query_file_compiles_to_a_resource(site):
    site.query_file("projects.yaml", GOOD_QUERIES)

    projects = resources(site.load())["projects"]

    assert projects.source == "queries"
    assert projects.operations == frozenset({"list", "show", "create", "update"})
    assert projects.sql["table"] == "projects"
    assert projects.writable_by_op == {"create": ("user_id", "name"), "update": ("name",)}
    assert projects.role_filters["list"] == {"default": "user_id = :user_id", "admin": ""}


def test_id_in_a_list_query_is_reported(site):
    site.query_file(
        "projects.yaml",
        """\
        list:
          query: SELECT id, name FROM projects WHERE id = :id
          filters:
            default: "user_id = :user_id"
        """,
    )

    (problem,) = problems_at(site.load(), f"queries/{APP}/projects.yaml", "list.query")

    assert ":id" in problem.message


def test_id_in_a_list_role_filter_is_reported(site):
    site.query_file(
        "projects.yaml",
        """\
        list:
          query: SELECT id FROM projects
          filters:
            default: "id = :id"
        """,
    )

    problems_at(site.load(), f"queries/{APP}/projects.yaml", "list.filters.default")


def test_a_read_without_a_default_role_filter_is_reported(site):
    site.query_file(
        "projects.yaml",
        """\
        list:
          query: SELECT id FROM projects
          filters:
            admin: ""
        """,
    )

    (problem,) = problems_at(site.load(), f"queries/{APP}/projects.yaml", "list.filters.default")

    assert problem.message == "is required"


def test_create_and_update_naming_different_tables_is_reported(site):
    site.query_file(
        "projects.yaml",
        """\
        create:
          table: projects
          fields: [name]
        update:
          table: project
          fields: [name]
          filters:
            default: "user_id = :user_id"
        """,
    )

    (problem,) = problems_at(site.load(), f"queries/{APP}/projects.yaml", "")

    assert "different tables" in problem.message


def test_a_query_file_without_any_operation_is_reported(site):
    site.query_file("projects.yaml", "{}\n")

    problems_at(site.load(), f"queries/{APP}/projects.yaml", "")


def test_an_unknown_key_in_a_query_file_is_reported(site):
    site.query_file("projects.yaml", GOOD_QUERIES + "lsit:\n  query: SELECT 1\n")

    (problem,) = problems_at(site.load(), f"queries/{APP}/projects.yaml", "lsit")

    assert problem.message.startswith("unknown key")


def test_a_resource_in_both_the_schema_and_a_query_file_is_reported(site):
    site.schema(VALID)
    site.query_file("projects.yaml", GOOD_QUERIES)

    (problem,) = problems_at(site.load(), f"queries/{APP}/projects.yaml", "")

    assert "schema" in problem.message


def test_the_go_auth_query_file_is_not_a_resource(site):
    site.query_file("auth.yaml", "login:\n  query: SELECT 1\nme:\n  query: SELECT 2\n")
    site.query_file("projects.yaml", GOOD_QUERIES)

    assert set(resources(site.load())) == {"projects"}


def login_lists(result: LoadResult) -> dict:
    from crud.config import login_lists_of

    assert result.ok, [str(problem) for problem in result.problems]
    return login_lists_of(result.registry.get(APP))


def test_auth_yaml_login_data_names_list_resources_or_gives_queries(site):
    site.query_file("projects.yaml", GOOD_QUERIES)
    site.query_file("auth.yaml", "login_data: [projects]\n")
    assert list(login_lists(site.load())) == ["projects"]

    site.query_file(
        "auth.yaml",
        """\
        login_data:
          mine:
            query: SELECT id FROM projects WHERE user_id = :user_id
            order: id DESC
        """,
    )
    mine = login_lists(site.load())["mine"]
    assert (mine.sql["list"], mine.order, mine.operations) == (
        "SELECT id FROM projects WHERE user_id = :user_id",
        "id DESC",
        frozenset({"list"}),
    )


def test_a_login_query_with_a_placeholder_a_login_has_no_value_for_is_reported(site):
    site.query_file("auth.yaml", "login_data:\n  mine:\n    query: SELECT id FROM t WHERE p = :project_id\n")

    (problem,) = problems_at(site.load(), f"queries/{APP}/auth.yaml", "login_data.mine.query")

    assert ":project_id" in problem.message


def test_a_login_list_named_twice_or_not_a_list_resource_is_reported(site):
    site.routes(login_includes="[projects]")
    site.query_file("projects.yaml", GOOD_QUERIES)
    site.query_file("auth.yaml", "login_data: [projects, nothing]\n")

    result = site.load()

    (twice,) = problems_at(result, f"queries/{APP}/auth.yaml", "login_data.projects")
    assert "already" in twice.message
    problems_at(result, f"queries/{APP}/auth.yaml", "login_data.nothing")


def test_an_unknown_key_in_auth_yaml_is_reported(site):
    site.query_file("auth.yaml", "login_dat: [projects]\n")

    (problem,) = problems_at(site.load(), f"queries/{APP}/auth.yaml", "login_dat")

    assert problem.message.startswith("unknown key")


def test_a_list_row_cap_is_read_and_checked(site):
    site.query_file("projects.yaml", GOOD_QUERIES.replace("list:\n", "list:\n  max_rows: 500\n", 1))
    assert resources(site.load())["projects"].max_rows == 500

    site.query_file("projects.yaml", GOOD_QUERIES.replace("list:\n", "list:\n  max_rows: 0\n", 1))
    problems_at(site.load(), f"queries/{APP}/projects.yaml", "list.max_rows")


def test_a_table_name_in_the_platform_prefix_is_refused(site):
    # sogoms_* tables are the platform's own in a tenant database (the pending mail), which the
    # schema tools leave alone: a tenant table there would be neither migrated nor diffed.
    site.schema(
        schema_with("sogoms_notes:\n  fields:\n    id: { type: int, primary: true }\n  crud: [list]\n")
    )

    problems = problems_at(site.load(), SCHEMA_FILE, "tables.sogoms_notes")

    assert any("sogoms_" in problem.message for problem in problems)


# --- foreign_where and a settable owner -----------------------------------------------------

INVOICES = """\
invoices:
  fields:
    id: { type: int, primary: true, auto: true }
    user_id: { type: int, foreign: users.id, filter: owner, write: role(admin) }
    status: { type: string, choices: [unpaid, paid], default: unpaid }
  crud: [list, show, create]
refunds:
  fields:
    id: { type: int, primary: true, auto: true }
    user_id: { type: int, foreign: users.id, filter: owner }
    invoice_id: { type: int, foreign: invoices.id, required: true, foreign_where: "%s" }
  crud: [list, create]
"""


def test_a_foreign_where_is_checked_against_the_table_it_points_at(site):
    site.schema(schema_with(INVOICES % "status == 'paid'"))
    found = resources(site.load())
    rule = found["refunds"].field("invoice_id").foreign_where
    assert rule is not None and rule.source == "status == 'paid'"
    # the owner with a write rule is writable (by whom the rule says); without one it is not
    assert found["invoices"].field("user_id").writable
    assert not found["refunds"].field("user_id").writable


@pytest.mark.parametrize(
    ("rule", "words"), [("reason == 'x'", "reason"), ("status == 3", "status"), ("status ==", "not a rule")]
)
def test_a_foreign_where_naming_what_the_target_lacks_is_reported(site, rule, words):
    site.schema(schema_with(INVOICES % rule))

    (problem,) = problems_at(site.load(), SCHEMA_FILE, "tables.refunds.fields.invoice_id.foreign_where")

    assert words in problem.message


def test_a_foreign_where_without_a_foreign_key_is_reported(site):
    site.schema(
        schema_with(
            """\
            notes:
              fields:
                id: { type: int, primary: true, auto: true }
                ref: { type: int, foreign_where: "id > 1" }
              crud: [list]
            """
        )
    )

    problems_at(site.load(), SCHEMA_FILE, "tables.notes.fields.ref.foreign_where")

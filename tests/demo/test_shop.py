"""The shop demo (config/*/shop.yaml, config only), from a fresh copy of the repo's config:
migrate, seed, then the API as its customers and its admin use it, through a real server.

carol and dave are customers, admin@shop.test the admin (config/seed/shop.yaml).
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest

from tests.realtime.servers import BASE_DIR, free_port, site_env, sogoms_command, uvicorn

HOST = "shop.localhost"
DEMO = "shop demo 2026"


@dataclass
class Shop:
    address: str

    def call(self, method: str, path: str, body: dict | None = None, token: str = "") -> tuple[int, dict]:
        request = urllib.request.Request(
            f"http://{self.address}/api/{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={
                "Host": HOST,
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {token}"} if token else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  (loopback)
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def token(self, email: str, password: str = DEMO) -> str:
        status, body = self.call("POST", "auth/login", {"email": email, "password": password})
        assert status == 200, body
        return body["data"]["token"]

    def data(self, method: str, path: str, body: dict | None = None, token: str = "", status: int = 200):
        answer, envelope = self.call(method, path, body, token)
        assert answer == status, envelope
        return envelope["data"]


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("shop")
    shutil.copytree(BASE_DIR / "config", root / "config")
    env = site_env(root / "config", root / "var")
    # relative paths of the demo's YAML (var/secrets/...) resolve here; its secrets are
    # development ones, made as `make run` makes them
    env["SOGOMS_BASE_DIR"] = str(root)
    sogoms_command(env, "devsecrets")
    sogoms_command(env, "migrate")
    seeded = sogoms_command(env, "seed", "shop")
    assert "carol@shop.test: 3 row(s) created" in seeded, seeded
    assert "exists, skipped" in sogoms_command(env, "seed", "shop")  # a second run changes nothing
    with uvicorn(env, free_port()) as address:
        yield Shop(address)


def test_the_catalogue_and_its_reviews_are_public(shop):
    products = shop.data("GET", "products")
    assert sorted(product["name"] for product in products) == ["Camp kettle", "Enamel mug", "Head lamp"]
    assert len(shop.data("GET", "reviews")) == 3
    assert shop.call("POST", "products", {"name": "x", "price": "1.00"})[0] == 401


def test_only_the_admin_edits_the_catalogue(shop):
    carol, admin = shop.token("carol@shop.test"), shop.token("admin@shop.test", "shop admin 2026")
    assert (
        shop.call("POST", "products", {"name": "Tent", "price": "99.00"}, carol)[1]["error"]["code"]
        == "FORBIDDEN"
    )
    tent = shop.data("POST", "products", {"name": "Tent", "price": "99.00"}, admin, status=201)
    assert tent["in_stock"] is True


def test_a_review_is_one_per_customer_and_product_rated_1_to_5_and_only_its_author_edits_it(shop):
    carol, dave = shop.token("carol@shop.test"), shop.token("dave@shop.test")
    lamp = next(p["id"] for p in shop.data("GET", "products") if p["name"] == "Head lamp")

    status, body = shop.call("POST", "reviews", {"product_id": lamp, "rating": 6}, carol)
    assert (status, list(body["error"]["details"])) == (400, ["rating"])
    review = shop.data("POST", "reviews", {"product_id": lamp, "rating": 4}, carol, status=201)
    assert shop.call("POST", "reviews", {"product_id": lamp, "rating": 2}, carol)[0] == 409
    assert shop.call("PATCH", f"reviews/{review['id']}", {"rating": 1}, dave)[0] == 403
    assert shop.data("PATCH", f"reviews/{review['id']}", {"rating": 5}, carol)["rating"] == 5


def test_invoices_are_issued_by_the_admin_and_read_by_their_customer_only(shop):
    carol, dave = shop.token("carol@shop.test"), shop.token("dave@shop.test")
    admin = shop.token("admin@shop.test", "shop admin 2026")
    carols = shop.data("GET", "invoices", token=carol)
    assert sorted(invoice["number"] for invoice in carols) == ["2026-0001", "2026-0002"]
    assert shop.call("GET", f"invoices/{carols[0]['id']}", token=dave)[0] == 404
    assert shop.call("POST", "invoices", {"number": "X", "total": "1.00"}, carol)[0] == 403
    dave_id = shop.data("GET", "auth/me", token=dave)["user"]["id"]

    issued = shop.data(
        "POST", "invoices", {"user_id": dave_id, "number": "2026-0100", "total": "5.00"}, admin, status=201
    )

    assert issued["user_id"] == dave_id and issued["status"] == "unpaid"
    assert "2026-0100" in {invoice["number"] for invoice in shop.data("GET", "invoices", token=dave)}
    assert "2026-0100" not in {invoice["number"] for invoice in shop.data("GET", "invoices", token=carol)}
    status, body = shop.call("POST", "invoices", {"user_id": dave_id, "number": "Y", "total": "1"}, carol)
    assert status in (400, 403), body


def test_a_refund_is_for_an_own_paid_invoice_and_only_the_admin_decides_it(shop):
    carol, dave = shop.token("carol@shop.test"), shop.token("dave@shop.test")
    admin = shop.token("admin@shop.test", "shop admin 2026")
    numbers = {i["number"]: i["id"] for i in shop.data("GET", "invoices", token=admin)}

    unpaid = shop.call("POST", "refunds", {"invoice_id": numbers["2026-0002"], "reason": "late"}, carol)
    assert (unpaid[0], list(unpaid[1]["error"]["details"])) == (400, ["invoice_id"])
    not_hers = shop.call("POST", "refunds", {"invoice_id": numbers["2026-0003"], "reason": "x"}, carol)
    assert not_hers[0] == 400
    assert (
        shop.call("POST", "refunds", {"invoice_id": numbers["2026-0001"], "reason": "again"}, carol)[0] == 409
    )
    status, body = shop.call(
        "POST", "refunds", {"invoice_id": numbers["2026-0003"], "reason": "x", "status": "approved"}, dave
    )
    assert (status, list(body["error"]["details"])) == (400, ["status"])

    refund = shop.data(
        "POST", "refunds", {"invoice_id": numbers["2026-0003"], "reason": "Broken"}, dave, status=201
    )
    assert refund["status"] == "requested"
    assert shop.call("PATCH", f"refunds/{refund['id']}", {"status": "approved"}, dave)[0] == 403
    decided = shop.data("PATCH", f"refunds/{refund['id']}", {"status": "approved"}, admin)
    assert decided["status"] == "approved"

    subjects = {
        message["subject"] for message in shop.data("GET", "_mail/messages?per_page=100", token=admin)
    }
    assert f"Refund #{refund['id']} requested" in subjects
    assert f"Your refund #{refund['id']} is approved" in subjects
    assert "Invoice 2026-0001: 46.50 EUR" in subjects


def test_the_login_answer_carries_the_customers_invoices_and_refunds(shop):
    status, body = shop.call("POST", "auth/login", {"email": "carol@shop.test", "password": DEMO})
    assert status == 200
    assert sorted(invoice["number"] for invoice in body["data"]["invoices"]) == ["2026-0001", "2026-0002"]
    assert [refund["reason"] for refund in body["data"]["refunds"]] == ["The kettle came dented"]


def test_seeded_users_are_verified(shop):
    """The operator vouches for a seed file's addresses (an app may require verification)."""
    carol = shop.token("carol@shop.test")
    me = shop.data("GET", "auth/me", token=carol)["user"]
    assert me["email_verified"] is True

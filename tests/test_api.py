"""The HTTP API (/api/v1/) over Flask's test client, on a real SQLite file and a real SMTP
relay on loopback: every route with a valid, a missing and a wrong-scope key, bad JSON,
oversized bodies, unknown ids, cursor pages, the per-key rate limit and the OpenAPI file."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate
from werkzeug.test import TestResponse

from digest.app import App
from digest.cli import cli
from digest.config import Settings, WebSettings
from digest.web import create_app, mailer_of
from tests.builders import NOW, add_articles, article, make_db, settings_for
from tests.relay import Relay, running_relay


@dataclass
class Clock:
    now: Any = NOW

    def __call__(self) -> Any:
        return self.now


@dataclass
class Api:
    app: Flask
    client: FlaskClient
    relay: Relay
    settings: Settings
    clock: Clock
    core: App
    keys: dict[str, str]

    def call(
        self, method: str, path: str, key: str | None = "write", body: Any = None, **kw: Any
    ) -> TestResponse:
        headers = dict(kw.pop("headers", {}))
        if key is not None:
            headers["Authorization"] = f"Bearer {self.keys.get(key, key)}"
        if body is not None:
            kw["json"] = body
        return self.client.open(f"/api/v1{path}", method=method, headers=headers, **kw)


def make_api(tmp_path: Path, relay: Relay, **web: Any) -> Api:
    db_path = tmp_path / "api.db"
    make_db(db_path).close()
    settings = settings_for(db_path, relay.url)
    settings = dataclasses.replace(settings, web=dataclasses.replace(WebSettings(), **web))
    clock = Clock()
    app = create_app(settings, clock=clock)
    core = App.open(settings, clock=clock)
    keys = {scope: core.add_api_key(scope, scope).token for scope in ("read", "write", "import")}
    return Api(app, app.test_client(), relay, settings, clock, core, keys)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with running_relay() as relay:
        yield make_api(tmp_path, relay)


def problem_of(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    assert body["type"].startswith("/api/v1/problems/")
    assert body["title"] and body["detail"]
    return body


NEW_ARTICLE = {
    "url": "https://news.example.com/api-1",
    "title": "Court rules on recall",
    "categories": ["Courts"],
    "published": "2026-11-27T10:00:00Z",
}
# (method, path, body, scope needed); {s} is an existing subscriber, {e} an edition.
ROUTES = [
    ("GET", "/articles", None, "read"),
    ("POST", "/articles", NEW_ARTICLE, "write"),
    ("GET", "/categories", None, "read"),
    ("POST", "/categories", {"name": "Health"}, "write"),
    ("GET", "/editions", None, "read"),
    ("GET", "/editions/{e}", None, "read"),
    ("GET", "/editions/{e}/stats", None, "read"),
    ("POST", "/subscribers", {"email": "new@example.com", "categories": ["Courts"]}, "write"),
    ("GET", "/subscribers/{s}", None, "read"),
    ("PATCH", "/subscribers/{s}", {"frequency": "daily"}, "write"),
    ("POST", "/subscribers/{s}/unsubscribe", None, "write"),
    ("DELETE", "/subscribers/{s}", None, "write"),
]
WEAKER = {"read": None, "write": "read", "import": "write"}


def fill(api: Api, path: str) -> str:
    subscriber = api.core.add_subscriber("ana@example.com", ["Courts"])
    edition = api.core.open_edition("weekly", NOW)
    return path.format(s=subscriber.subscriber.id, e=edition.id)


# -- the document ----------------------------------------------------------------------------


def test_openapi_is_valid_and_lists_every_route(api: Api) -> None:
    response = api.call("GET", "/openapi.json", key=None)
    assert response.status_code == 200
    spec = response.get_json()
    validate(spec)
    assert spec["openapi"].startswith("3.1")
    routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1")), method.lower())
        for rule in api.app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    documented = {
        (path, method)
        for path, item in spec["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert routes == documented
    tested = {(re.sub(r"\{\w\}", "x", p), m.lower()) for m, p, _, _ in ROUTES}
    assert len(tested) == len(routes) - 1  # every route but openapi.json is in ROUTES


# -- keys and scopes on every route ---------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body", "scope"), ROUTES)
def test_every_route_needs_a_key_of_its_scope(
    api: Api, method: str, path: str, body: Any, scope: str
) -> None:
    path = fill(api, path)
    missing = problem_of(api.call(method, path, key=None, body=body), 401)
    assert "Authorization: Bearer" in missing["detail"]
    assert api.call(method, path, key=None).headers["WWW-Authenticate"].startswith("Bearer")
    problem_of(api.call(method, path, key="dg_nope_nope", body=body), 401)
    problem_of(
        api.call(method, path, key=None, body=body, headers={"Authorization": "Basic eDp5"}),
        401,
    )
    weaker = WEAKER[scope]
    if weaker is not None:
        refused = problem_of(api.call(method, path, key=weaker, body=body), 403)
        assert f"scope '{scope}'" in refused["detail"]
    response = api.call(method, path, key=scope, body=body)
    assert response.status_code in (200, 201, 202, 204), response.get_data(as_text=True)


def test_a_revoked_key_is_refused_at_once(api: Api) -> None:
    assert api.call("GET", "/categories", key="read").status_code == 200
    api.core.revoke_api_key("read")
    assert "revoked" in problem_of(api.call("GET", "/categories", key="read"), 401)["detail"]


def test_only_a_hash_of_the_key_is_stored(api: Api) -> None:
    token = api.keys["write"]
    secret = token.split("_", 2)[2]
    dump = "\n".join(api.core.db.iterdump())
    assert secret not in dump
    assert token not in dump


# -- bad requests ----------------------------------------------------------------------------


def test_bad_bodies_are_problems(api: Api) -> None:
    post = api.client.post
    auth = {"Authorization": f"Bearer {api.keys['write']}"}
    bad = post("/api/v1/categories", data=b"{nope", headers=auth, content_type="application/json")
    assert "not valid UTF-8 JSON" in problem_of(bad, 400)["detail"]
    bad = post("/api/v1/categories", data=b"[1]", headers=auth, content_type="application/json")
    assert "JSON object" in problem_of(bad, 400)["detail"]
    bad = post(
        "/api/v1/categories",
        data=b'{"name": "\xff"}',
        headers=auth,
        content_type="application/json",
    )
    problem_of(bad, 400)
    bad = post("/api/v1/categories", data="name=x", headers=auth, content_type="text/plain")
    assert "application/json" in problem_of(bad, 415)["detail"]
    form = post("/api/v1/categories", data={"name": "x"}, headers=auth)
    problem_of(form, 415)
    typo = api.call("POST", "/categories", body={"nmae": "Health"})
    assert "unknown field 'nmae'" in problem_of(typo, 422)["detail"]
    wrong_type = api.call("POST", "/categories", body={"name": 3})
    assert "must be a string" in problem_of(wrong_type, 422)["detail"]


def test_bodies_up_to_256_kb_are_read_and_larger_ones_refused(api: Api) -> None:
    big = dict(NEW_ARTICLE, summary="x" * 200_000)
    assert api.call("POST", "/articles", body=big).status_code == 201
    huge = dict(NEW_ARTICLE, summary="x" * 300_000)
    assert "256 KB" in problem_of(api.call("POST", "/articles", body=huge), 413)["detail"]
    # Read whole (ingest then shortens a summary to its own limit, as for a feed).
    assert api.core.list_articles()[0].summary.startswith("x" * 200)


def test_unknown_routes_and_methods_are_problems(api: Api) -> None:
    assert "openapi.json" in problem_of(api.call("GET", "/nothing"), 404)["detail"]
    response = api.call("PUT", "/categories", body={})
    problem_of(response, 405)
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/subscribers/999", None),
        ("PATCH", "/subscribers/999", {"frequency": "daily"}),
        ("POST", "/subscribers/999/unsubscribe", None),
        ("DELETE", "/subscribers/999", None),
        ("GET", "/editions/999", None),
    ],
)
def test_unknown_ids_are_404(api: Api, method: str, path: str, body: Any) -> None:
    assert "999" in problem_of(api.call(method, path, body=body), 404)["detail"]


# -- articles --------------------------------------------------------------------------------


def test_articles_are_created_then_updated_by_url(api: Api) -> None:
    first = api.call("POST", "/articles", body=NEW_ARTICLE)
    assert first.status_code == 201
    created = first.get_json()
    assert created["result"] == "added"
    assert created["article"]["categories"] == ["Courts"]
    again = api.call("POST", "/articles", body=NEW_ARTICLE)
    assert (again.status_code, again.get_json()["result"]) == (200, "unchanged")
    changed = api.call("POST", "/articles", body=dict(NEW_ARTICLE, title="Court rules again"))
    assert (changed.status_code, changed.get_json()["result"]) == (200, "updated")
    assert changed.get_json()["article"]["id"] == created["article"]["id"]
    assert [a.title for a in api.core.list_articles()] == ["Court rules again"]
    # As in a feed import, a category the site names for the first time is created.
    fresh = dict(NEW_ARTICLE, url="https://news.example.com/api-2", categories=["Health"])
    assert api.call("POST", "/articles", body=fresh).get_json()["article"]["categories"] == [
        "Health"
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"title": "x", "categories": ["Courts"]}, "field 'url' is required"),
        (dict(NEW_ARTICLE, categories="Courts"), "must be a list of strings"),
        (dict(NEW_ARTICLE, published="yesterday"), "not an ISO 8601"),
        (dict(NEW_ARTICLE, published="2026-11-27T10:00:00"), "needs a UTC offset"),
        (dict(NEW_ARTICLE, url="javascript:alert(1)"), "url"),
    ],
)
def test_bad_articles_are_422(api: Api, body: dict[str, Any], message: str) -> None:
    assert message in problem_of(api.call("POST", "/articles", body=body), 422)["detail"]
    assert api.core.list_articles() == []


def test_article_pages_cover_every_article_once(api: Api) -> None:
    same_time = NOW - timedelta(hours=5)
    articles = [article(f"k{i}", ("Courts",), same_time - timedelta(hours=i % 3)) for i in range(7)]
    add_articles(api.core.db, articles, NOW)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = api.call("GET", "/articles", key="read", query_string=query).get_json()
        seen += [a["id"] for a in page["items"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
        # An article arriving between two pages does not shift the ones still to come.
        add_articles(api.core.db, [article(f"late{pages}", ("Courts",), NOW)], NOW)
    assert pages == 3
    assert sorted(seen) == sorted(a.id for a in articles)
    assert seen == [a.id for a in api.core.list_articles() if not a.id.startswith("a-late")]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"limit": "0"}, "limit must be"),
        ({"limit": "101"}, "limit must be"),
        ({"limit": "ten"}, "limit must be"),
        ({"cursor": "!!!"}, "cursor"),
        ({"cursor": "WzFd"}, "cursor"),  # base64 of [1]
    ],
)
def test_bad_list_parameters_are_400(api: Api, query: dict[str, str], message: str) -> None:
    response = api.call("GET", "/articles", key="read", query_string=query)
    assert message in problem_of(response, 400)["detail"]


def test_articles_by_category(api: Api) -> None:
    add_articles(
        api.core.db,
        [article("c", ("Courts",), NOW), article("o", ("Opioid Drugs",), NOW)],
        NOW,
    )
    page = api.call("GET", "/articles", key="read", query_string={"category": "courts"})
    assert [a["id"] for a in page.get_json()["items"]] == ["a-c"]
    unknown = api.call("GET", "/articles", key="read", query_string={"category": "Nope"})
    assert "Nope" in problem_of(unknown, 422)["detail"]


# -- categories and editions -----------------------------------------------------------------


def test_categories_are_listed_and_created_once(api: Api) -> None:
    names = [c["name"] for c in api.call("GET", "/categories", key="read").get_json()["items"]]
    assert names == ["Opioid Drugs", "Consumer Safety", "Courts"]
    created = api.call("POST", "/categories", body={"name": "Health", "description": "Care"})
    assert created.status_code == 201
    assert created.get_json()["category"]["slug"] == "health"
    assert api.call("POST", "/categories", body={"name": "health"}).status_code == 200
    problem_of(api.call("POST", "/categories", body={"name": "  "}), 422)


def test_editions_show_their_delivery_counts(api: Api) -> None:
    api.core.add_subscriber("ana@example.com", ["Courts"])
    edition = api.core.open_edition("weekly", NOW)
    items = api.call("GET", "/editions", key="read").get_json()["items"]
    assert [(e["id"], e["period"], e["status"]) for e in items] == [
        (edition.id, "2026-W48", "sending")
    ]
    shown = api.call("GET", f"/editions/{edition.id}", key="read").get_json()["edition"]
    assert shown["deliveries"]["pending"] == 1
    assert shown["deliveries"]["recipients"] == 1
    assert "bounces" in shown


# -- subscribers -----------------------------------------------------------------------------


def test_a_sign_up_is_pending_with_a_confirmation_email(api: Api) -> None:
    body = {
        "email": "Reader@Example.com",
        "categories": ["Courts", "opioid-drugs"],
        "name": "Rea Der",
        "frequency": "daily",
        "timezone": "Europe/Lisbon",
    }
    response = api.call("POST", "/subscribers", body=body)
    assert response.status_code == 202
    reader = response.get_json()["subscriber"]
    assert reader["status"] == "pending"
    # What was asked for waits in the sign-up request until the inbox's owner confirms.
    assert (reader["email"], reader["timezone"], reader["categories"]) == (
        "Reader@example.com",
        "UTC",
        [],
    )
    mailer_of(api.app).drain()
    [mail] = api.relay.wait_for_count(1)
    assert mail.recipients == ["Reader@example.com"]
    # The confirm link, as for the web form; confirming applies exactly what was asked.
    text = mail.message.get_body(("plain",))
    assert text is not None
    token = re.search(r"/c/([A-Za-z0-9._-]+)", text.get_content())
    assert token is not None
    client = api.app.test_client()
    path = f"/c/{token.group(1)}"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert csrf is not None
    assert client.post(path, data={"csrf_token": csrf.group(1)}).status_code == 200
    confirmed = api.call("GET", f"/subscribers/{reader['id']}").get_json()["subscriber"]
    assert (confirmed["status"], confirmed["frequency"], confirmed["timezone"]) == (
        "active",
        "daily",
        "Europe/Lisbon",
    )
    assert confirmed["categories"] == ["Courts", "Opioid Drugs"]


def test_a_sign_up_cannot_change_an_active_reader(api: Api) -> None:
    api.core.add_subscriber("ana@example.com", ["Courts"], timezone="UTC")
    body = {"email": "ana@example.com", "categories": ["Opioid Drugs"], "timezone": "Asia/Tokyo"}
    reader = api.call("POST", "/subscribers", body=body).get_json()["subscriber"]
    assert (reader["status"], reader["categories"], reader["timezone"]) == (
        "active",
        ["Courts"],
        "UTC",
    )


def test_active_needs_the_import_scope(api: Api) -> None:
    body = {"email": "bulk@example.com", "categories": ["Courts"], "status": "active"}
    assert "import" in problem_of(api.call("POST", "/subscribers", body=body), 403)["detail"]
    created = api.call("POST", "/subscribers", key="import", body=body)
    assert created.status_code == 201
    assert created.get_json()["subscriber"]["status"] == "active"
    assert api.call("POST", "/subscribers", key="import", body=body).status_code == 200
    mailer_of(api.app).drain()
    assert api.relay.received == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"categories": ["Courts"]}, "field 'email' is required"),
        ({"email": "not-an-address", "categories": ["Courts"]}, "email"),
        ({"email": "a@example.com", "categories": []}, "at least one category"),
        ({"email": "a@example.com", "categories": ["Nope"]}, "unknown category"),
        ({"email": "a@example.com", "categories": ["Courts"], "frequency": "hourly"}, "frequency"),
        ({"email": "a@example.com", "categories": ["Courts"], "timezone": "Mars/Base"}, "timezone"),
        ({"email": "a@example.com", "categories": ["Courts"], "status": "gone"}, "status"),
    ],
)
def test_bad_sign_ups_are_422_and_write_nothing(
    api: Api, body: dict[str, Any], message: str
) -> None:
    assert message in problem_of(api.call("POST", "/subscribers", body=body), 422)["detail"]
    assert list(api.core.list_subscribers()) == []


def test_a_reader_is_read_changed_unsubscribed_and_forgotten(api: Api) -> None:
    reader_id = api.core.add_subscriber("ana@example.com", ["Courts"]).subscriber.id
    path = f"/subscribers/{reader_id}"
    assert api.call("GET", path, key="read").get_json()["subscriber"]["email"] == "ana@example.com"
    change = {"categories": ["Opioid Drugs"], "frequency": "daily", "timezone": "America/Chicago"}
    changed = api.call("PATCH", path, body=change).get_json()["subscriber"]
    assert (changed["categories"], changed["frequency"], changed["timezone"]) == (
        ["Opioid Drugs"],
        "daily",
        "America/Chicago",
    )
    problem_of(api.call("PATCH", path, body={"timezone": "Nowhere"}), 422)
    moved = api.call("PATCH", path, body={"delivery_day": "Thursday"}).get_json()["subscriber"]
    assert moved["delivery_day"] == "thu"
    assert api.core.find_subscriber("ana@example.com").delivery_day == "thu"
    day_problem = problem_of(api.call("PATCH", path, body={"delivery_day": "someday"}), 422)
    assert "delivery_day" in day_problem["detail"]
    problem_of(api.call("PATCH", path, body={"categories": []}), 422)
    left = api.call("POST", f"{path}/unsubscribe").get_json()["subscriber"]
    assert left["status"] == "unsubscribed"
    assert api.call("POST", f"{path}/unsubscribe").status_code == 200  # idempotent
    assert "unsubscribed" in problem_of(api.call("PATCH", path, body={"name": "x"}), 422)["detail"]
    assert api.call("DELETE", path).status_code == 204
    assert api.call("DELETE", path).status_code == 204
    forgotten = api.call("GET", path, key="read").get_json()["subscriber"]
    assert (forgotten["status"], forgotten["email"]) == ("forgotten", None)


# -- rate limit ------------------------------------------------------------------------------


def test_each_key_has_its_own_rate_limit(tmp_path: Path) -> None:
    with running_relay() as relay:
        api = make_api(tmp_path, relay, api_rate_limit_per_minute=3)
        for _ in range(3):
            assert api.call("GET", "/categories", key="read").status_code == 200
        limited = api.call("GET", "/categories", key="read")
        assert "limit" in problem_of(limited, 429)["detail"]
        assert limited.headers["Retry-After"] == "60"
        assert api.call("GET", "/categories", key="write").status_code == 200
        api.clock.now = NOW + timedelta(seconds=30)
        assert api.call("GET", "/categories", key="read").headers["Retry-After"] == "30"
        api.clock.now = NOW + timedelta(seconds=61)
        assert api.call("GET", "/categories", key="read").status_code == 200


# -- the keys command ------------------------------------------------------------------------


def test_keys_command_prints_the_key_once(api: Api) -> None:
    db = api.settings.db_path
    added = CliRunner().invoke(cli, ["--db", db, "keys", "add", "cms", "--scope", "write"])
    assert added.exit_code == 0, added.output
    token = added.stdout.strip()
    assert token.startswith("dg_")
    assert "will not be shown again" in added.stderr
    assert api.call("GET", "/categories", key=token).status_code == 200
    listed = CliRunner().invoke(cli, ["--db", db, "keys", "list", "--json"])
    rows = json.loads(listed.output)
    assert [(r["name"], r["scope"]) for r in rows] == [
        ("cms", "write"),
        ("import", "import"),
        ("read", "read"),
        ("write", "write"),
    ]
    assert token not in listed.output and token.split("_", 2)[2] not in listed.output
    again = CliRunner().invoke(cli, ["--db", db, "keys", "add", "CMS", "--scope", "read"])
    assert again.exit_code == 1 and "name is taken" in again.output
    bad = CliRunner().invoke(cli, ["--db", db, "keys", "add", "x", "--scope", "admin"])
    assert bad.exit_code == 2
    revoked = CliRunner().invoke(cli, ["--db", db, "keys", "revoke", "cms"])
    assert revoked.output == "Revoked cms.\n"
    assert api.call("GET", "/categories", key=token).status_code == 401
    missing = CliRunner().invoke(cli, ["--db", db, "keys", "revoke", "cms"])
    assert missing.exit_code == 1 and "no live API key named 'cms'" in missing.output


# -- the answers match the document ----------------------------------------------------------


def test_every_answer_matches_its_schema_in_the_document(api: Api) -> None:
    """Each route's real answers (success and problems) validate against the response
    schema openapi.json gives for that path, method and status."""
    spec = api.call("GET", "/openapi.json", key=None).get_json()
    reader = api.core.add_subscriber("ana@example.com", ["Courts"]).subscriber.id
    edition = api.core.open_edition("weekly", NOW).id
    calls: list[tuple[str, str, str, Any, str | None]] = [
        ("GET", "/articles", "/articles", None, "read"),
        ("POST", "/articles", "/articles", NEW_ARTICLE, "write"),
        ("POST", "/articles", "/articles", NEW_ARTICLE, "write"),
        ("POST", "/articles", "/articles", {"title": "x"}, "write"),
        ("GET", "/articles?limit=1", "/articles", None, "read"),
        ("GET", "/categories", "/categories", None, "read"),
        ("POST", "/categories", "/categories", {"name": "Health"}, "write"),
        ("GET", "/editions", "/editions", None, "read"),
        ("GET", f"/editions/{edition}", "/editions/{edition_id}", None, "read"),
        ("GET", "/editions/999", "/editions/{edition_id}", None, "read"),
        ("GET", f"/editions/{edition}/stats", "/editions/{edition_id}/stats", None, "read"),
        ("GET", "/editions/999/stats", "/editions/{edition_id}/stats", None, "read"),
        (
            "POST",
            "/subscribers",
            "/subscribers",
            {"email": "b@example.com", "categories": ["Courts"]},
            "write",
        ),
        (
            "POST",
            "/subscribers",
            "/subscribers",
            {"email": "c@example.com", "categories": ["Courts"], "status": "active"},
            "import",
        ),
        ("GET", f"/subscribers/{reader}", "/subscribers/{subscriber_id}", None, "read"),
        ("PATCH", f"/subscribers/{reader}", "/subscribers/{subscriber_id}", {"name": "A"}, "write"),
        ("GET", f"/subscribers/{reader}", "/subscribers/{subscriber_id}", None, None),
        ("GET", f"/subscribers/{reader}", "/subscribers/{subscriber_id}", None, "dg_x_y"),
        (
            "POST",
            f"/subscribers/{reader}/unsubscribe",
            "/subscribers/{subscriber_id}/unsubscribe",
            None,
            "write",
        ),
        ("DELETE", f"/subscribers/{reader}", "/subscribers/{subscriber_id}", None, "read"),
        ("DELETE", f"/subscribers/{reader}", "/subscribers/{subscriber_id}", None, "write"),
    ]
    for method, url, template, body, key in calls:
        response = api.call(method, url, key=key, body=body)
        answers = spec["paths"][template][method.lower()]["responses"]
        assert str(response.status_code) in answers, (method, url, response.status_code)
        answer = answers[str(response.status_code)]
        if "$ref" in answer:
            answer = spec["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
        if response.status_code == 204:
            assert response.get_data() == b""
            continue
        [(media, content)] = answer["content"].items()
        assert response.mimetype == media, (method, url)
        schema = {**content["schema"], "components": spec["components"]}
        OAS31Validator(schema).validate(response.get_json())

"""The OpenAPI document is valid, lists exactly the JSON API's routes, and describes their real answers."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.support import ARTICLE, CLIENT, post_comment

DOCUMENT_URI = "urn:widget:openapi"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "trace"}  # HEAD and OPTIONS are ignored
SLOTS_URL = "/api/slots?service=massage-60&start=2026-11-24&end=2026-11-25&tz=Europe/London"


@pytest.fixture
def spec(client):
    """Return the document as the app serves it."""
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def _pointer(*parts: str) -> str:
    """Return a URI fragment (JSON pointer) to the given keys."""
    return "#/" + "/".join(quote(part.replace("~", "~0").replace("/", "~1"), safe="~") for part in parts)


def _validator(spec: dict, *parts: str) -> Draft202012Validator:
    """Return a validator for the schema at ``parts`` in the document, its $refs resolved against the document."""
    registry = Registry().with_resource(DOCUMENT_URI, Resource.from_contents(spec, default_specification=DRAFT202012))
    schema = {"$ref": DOCUMENT_URI + _pointer(*parts)}
    return Draft202012Validator(schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


def check_response(spec: dict, path: str, method: str, response) -> dict:
    """Assert the document lists this response's status and content type and its body fits the declared schema."""
    operation = spec["paths"][path][method]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method.upper()} {path} answered {status}, which is not documented"
    declared = operation["responses"][status]
    content = declared.get("content", {})
    assert response.mimetype in content, f"{method.upper()} {path} {status} answered {response.mimetype}"
    body = response.get_json()
    validator = _validator(spec, "paths", path, method, "responses", status, "content", response.mimetype, "schema")
    errors = [f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, f"{method.upper()} {path} {status}: {errors}\n{body}"
    return body


def test_document_is_valid_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1.")
    validate(spec, cls=OpenAPIV31SpecValidator)
    validate(spec)  # and as whatever version it says it is


def _flask_path(rule: str) -> str:
    """Turn /manage/<token> (or <string:token>) into /manage/{token}."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


def _is_api(path: str) -> bool:
    """Say whether a path belongs to the JSON API the document describes (the HTML pages and the admin do not)."""
    return path.startswith("/api/") or path == "/healthz"


def test_every_api_route_is_documented_and_every_documented_route_exists(app, spec):
    served = {
        (_flask_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and _is_api(rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, item in spec["paths"].items() for method in item if method in HTTP_METHODS}
    assert served - documented == set(), "served but not documented"
    assert documented - served == set(), "documented but not served"


def test_document_describes_the_json_api_only(spec):
    """The HTML pages, the admin and the loader script are not an API: the document leaves them out."""
    assert {path for path in spec["paths"] if not _is_api(path)} == set()
    assert {"/api/services", "/api/slots", "/api/bookings", "/api/comments", "/healthz"} <= set(spec["paths"])


def test_path_parameters_are_declared(spec):
    """Each {name} in a documented path has a required path parameter of that name."""
    for path, item in spec["paths"].items():
        names = set(re.findall(r"{([^{}]+)}", path))
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            parameters = [*item.get("parameters", []), *operation.get("parameters", [])]
            declared = {p["name"] for p in parameters if p.get("in") == "path" and p.get("required")}
            assert declared == names, f"{method.upper()} {path}"


def test_services_answer_matches(client, spec):
    body = check_response(spec, "/api/services", "get", client.get("/api/services"))
    assert [s["id"] for s in body["services"]] == ["massage-30", "massage-60", "massage-90"]


def test_slots_answer_matches(client, spec):
    response = client.get(SLOTS_URL)
    assert response.status_code == 200
    body = check_response(spec, "/api/slots", "get", response)
    assert body["slots"], "Tuesday and Wednesday are open: there must be free slots"
    assert body["timezone"] == "Europe/London"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("service=nope", "service"),
        ("", "service"),
        ("service=massage-60&tz=Mars/Olympus", "tz"),
        ("service=massage-60&start=2026-02-30", "start"),
        ("service=massage-60&start=2026-11-25&end=2026-11-24", "end"),
    ],
)
def test_slots_bad_parameter_answer_matches(client, spec, query, field):
    response = client.get(f"/api/slots?{query}")
    assert response.status_code == 422
    body = check_response(spec, "/api/slots", "get", response)
    assert field in body["errors"]


def _first_slot(client) -> str:
    slots = client.get(SLOTS_URL).get_json()["slots"]
    assert slots
    return slots[0]["start"]


def test_booking_answers_match(app, client, spec):
    """201 for a new booking, 200 for the same again with its key, 409 for the same time without it."""
    body = {"service": "massage-60", "start": _first_slot(client), **CLIENT}
    key = {"Idempotency-Key": "the-first-request"}

    created = client.post("/api/bookings", json=body, headers=key)
    assert created.status_code == 201
    booking = check_response(spec, "/api/bookings", "post", created)
    assert booking["status"] == "confirmed" and booking["service"] == "massage-60"
    assert booking["manage_url"].startswith(app.config["PUBLIC_URL"] + "/manage/")

    again = client.post("/api/bookings", json=body, headers=key)
    assert again.status_code == 200
    assert check_response(spec, "/api/bookings", "post", again)["id"] == booking["id"]

    taken = client.post("/api/bookings", json=body)
    assert taken.status_code == 409
    conflict = check_response(spec, "/api/bookings", "post", taken)
    assert "start" in conflict["errors"]


def test_booking_request_example_fits_the_request_schema(client, spec):
    """The body the tests send is one the document's BookingRequest accepts."""
    body = {"service": "massage-60", "start": _first_slot(client), **CLIENT}
    validator = _validator(
        spec, "paths", "/api/bookings", "post", "requestBody", "content", "application/json", "schema"
    )
    assert not list(validator.iter_errors(body))


@pytest.mark.parametrize(
    ("kwargs", "status", "field"),
    [
        pytest.param({"json": {}}, 422, "name", id="missing-fields"),
        pytest.param({"json": {"service": "massage-60"}}, 422, "start", id="only-service"),
        pytest.param({"data": "service=massage-60", "content_type": "text/plain"}, 415, "body", id="text-plain"),
        pytest.param({"data": '{"service": ', "content_type": "application/json"}, 400, "body", id="invalid-json"),
        pytest.param({"data": "[1, 2]", "content_type": "application/json"}, 400, "body", id="json-array"),
        pytest.param({"data": " " * 70000, "content_type": "application/json"}, 413, None, id="too-large"),
    ],
)
def test_bad_booking_request_answers_match(client, spec, kwargs, status, field):
    response = client.post("/api/bookings", **kwargs)
    assert response.status_code == status
    body = check_response(spec, "/api/bookings", "post", response)
    if field is not None:
        assert field in body["errors"]


def test_openapi_answer_matches(client, spec):
    check_response(spec, "/api/openapi.json", "get", client.get("/api/openapi.json"))


def test_health_answer_matches(client, spec):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert check_response(spec, "/healthz", "get", response)["status"] == "ok"


def test_degraded_health_answer_matches(client, spec, monkeypatch):
    """When the calendar fails, /healthz answers 503 with the documented body."""
    from widget import calendars

    def broken():
        raise RuntimeError("calendar down")

    monkeypatch.setattr(calendars, "current", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = check_response(spec, "/healthz", "get", response)
    assert body == {"status": "degraded", "database": "ok", "calendar": "unavailable", "ratelimits": "per-process"}


def check_status(spec: dict, path: str, method: str, response) -> None:
    """Assert the document lists this response's status and, when it declares content, its content type."""
    responses = spec["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in responses, f"{method.upper()} {path} answered {status}, which is not documented"
    content = responses[status].get("content")
    if content:
        assert response.mimetype in content, f"{method.upper()} {path} {status} answered {response.mimetype}"


@pytest.fixture
def comment_spec(comment_client):
    """Return the document as an app with comments open serves it."""
    return comment_client.get("/api/openapi.json").get_json()


def test_comment_answers_match(comment_app, comment_client, comment_spec):
    """Thread, post (held, then published), counts, edit and delete answer what the document says."""
    from tests.support import ARTICLE, post_comment
    from widget.comments import moderation

    spec, client = comment_spec, comment_client
    first = post_comment(client, comment_app, "First, held for approval.")
    assert check_response(spec, "/api/comments", "post", first)["status"] == "pending"
    with comment_app.app_context():
        moderation.moderate([first.get_json()["id"]], "approve")
    reply = post_comment(client, comment_app, "A reply, published at once.", parent_id=first.get_json()["id"])
    posted = check_response(spec, "/api/comments", "post", reply)
    assert posted["status"] == "published"

    thread = check_response(spec, "/api/comments", "get", client.get("/api/comments", query_string={"page": ARTICLE}))
    assert [c["id"] for c in thread["comments"]] == [first.get_json()["id"], posted["id"]]
    counts = client.get("/api/comments/counts", query_string={"page": [ARTICLE, ARTICLE + "/"]})
    assert check_response(spec, "/api/comments/counts", "get", counts) == {ARTICLE: 2, ARTICLE + "/": 2}

    headers = {"X-Comment-Token": posted["edit_token"]}
    path = f"/api/comments/{posted['id']}"
    edited = client.patch(path, json={"body": "A reply, edited."}, headers=headers)
    assert check_response(spec, "/api/comments/{comment_id}", "patch", edited)["body"] == "A reply, edited."
    refused = client.patch(path, json={"body": "No token."})
    assert check_response(spec, "/api/comments/{comment_id}", "patch", refused)["errors"]["token"]
    deleted = client.delete(path, headers=headers)
    assert deleted.status_code == 204
    check_status(spec, "/api/comments/{comment_id}", "delete", deleted)


@pytest.mark.parametrize(
    ("kwargs", "status", "field"),
    [
        pytest.param({"json": {}}, 422, "page", id="missing-fields"),
        pytest.param({"json": {"page": "https://elsewhere.example/x"}}, 422, "page", id="page-not-allowed"),
        pytest.param({"data": "body=hi", "content_type": "text/plain"}, 415, "body", id="text-plain"),
        pytest.param({"data": '{"body": ', "content_type": "application/json"}, 400, "body", id="invalid-json"),
        pytest.param({"data": " " * 70000, "content_type": "application/json"}, 413, None, id="too-large"),
    ],
)
def test_bad_comment_request_answers_match(comment_client, comment_spec, kwargs, status, field):
    response = comment_client.post("/api/comments", **kwargs)
    assert response.status_code == status
    body = check_response(comment_spec, "/api/comments", "post", response)
    if field is not None:
        assert field in body["errors"]


# --- Every status the document declares for the JSON API is one the app really answers ------------------------------


def _comment(client, app, body="Lovely article, thank you.") -> dict:
    """Post a comment; return its answer (id and edit_token)."""
    response = post_comment(client, app, body)
    assert response.status_code == 201, response.text
    return response.get_json()


def _edit(client, app, sender="author", **kwargs):
    """PATCH a fresh comment as its author (with its edit token), with a forged token, or with none (None)."""
    posted = _comment(client, app)
    headers = {} if sender is None else {"X-Comment-Token": posted["edit_token"] if sender == "author" else sender}
    return client.patch(f"/api/comments/{posted['id']}", headers=headers, **kwargs)


def _delete(client, app, sender="author"):
    """DELETE a fresh comment as its author (with its edit token), with a forged token, or with none (None)."""
    posted = _comment(client, app)
    headers = {} if sender is None else {"X-Comment-Token": posted["edit_token"] if sender == "author" else sender}
    return client.delete(f"/api/comments/{posted['id']}", headers=headers)


def _book_twice(client, key=None):
    """Book, then send the same request again: with the first one's Idempotency-Key, or with none."""
    body = {"service": "massage-60", "start": _first_slot(client), **CLIENT}
    client.post("/api/bookings", json=body, headers={"Idempotency-Key": "first-request"})
    return client.post("/api/bookings", json=body, headers={"Idempotency-Key": key} if key else {})


def _book_past_the_cap(client, app):
    app.config["MAX_FUTURE_BOOKINGS"] = 1
    client.post("/api/bookings", json={"service": "massage-60", "start": _first_slot(client), **CLIENT})
    return client.post("/api/bookings", json={"service": "massage-60", "start": _first_slot(client), **CLIENT})


def _same_comment_twice(client, app):
    _comment(client, app)
    return post_comment(client, app)


TOO_LARGE = {"data": " " * 70000, "content_type": "application/json"}
PLAIN = {"data": "body=hi", "content_type": "text/plain"}
ARRAY = {"data": "[1, 2]", "content_type": "application/json"}
API_STATUSES = {
    ("/api/services", "get", "200"): lambda client, app: client.get("/api/services"),
    ("/api/slots", "get", "200"): lambda client, app: client.get(SLOTS_URL),
    ("/api/slots", "get", "422"): lambda client, app: client.get("/api/slots?service=massage-60&start=9999-12-31"),
    ("/api/bookings", "post", "201"): lambda client, app: client.post(
        "/api/bookings", json={"service": "massage-60", "start": _first_slot(client), **CLIENT}
    ),
    ("/api/bookings", "post", "200"): lambda client, app: _book_twice(client, "first-request"),
    ("/api/bookings", "post", "400"): lambda client, app: client.post("/api/bookings", **ARRAY),
    ("/api/bookings", "post", "409"): lambda client, app: _book_twice(client),
    ("/api/bookings", "post", "413"): lambda client, app: client.post("/api/bookings", **TOO_LARGE),
    ("/api/bookings", "post", "415"): lambda client, app: client.post("/api/bookings", **PLAIN),
    ("/api/bookings", "post", "422"): lambda client, app: client.post("/api/bookings", json={}),
    ("/api/bookings", "post", "429"): _book_past_the_cap,
    ("/api/openapi.json", "get", "200"): lambda client, app: client.get("/api/openapi.json"),
    ("/healthz", "get", "200"): lambda client, app: client.get("/healthz"),
    ("/api/comments", "get", "200"): lambda client, app: client.get(f"/api/comments?page={ARTICLE}"),
    ("/api/comments", "get", "422"): lambda client, app: client.get("/api/comments"),
    ("/api/comments", "post", "201"): lambda client, app: client.post(
        "/api/comments", json={"page": ARTICLE, "name": "Ada", "email": "ada@reader.example", "body": "Hello there."}
    ),
    ("/api/comments", "post", "400"): lambda client, app: client.post("/api/comments", **ARRAY),
    ("/api/comments", "post", "409"): lambda client, app: _same_comment_twice(client, app),
    ("/api/comments", "post", "413"): lambda client, app: client.post("/api/comments", **TOO_LARGE),
    ("/api/comments", "post", "415"): lambda client, app: client.post("/api/comments", **PLAIN),
    ("/api/comments", "post", "422"): lambda client, app: client.post("/api/comments", json={}),
    ("/api/comments/{comment_id}", "patch", "200"): lambda client, app: _edit(client, app, json={"body": "Edited."}),
    ("/api/comments/{comment_id}", "patch", "400"): lambda client, app: _edit(client, app, **ARRAY),
    ("/api/comments/{comment_id}", "patch", "401"): lambda client, app: _edit(client, app, None, json={"body": "Hi."}),
    ("/api/comments/{comment_id}", "patch", "403"): lambda client, app: _edit(
        client, app, "forged", json={"body": "Hi."}
    ),
    ("/api/comments/{comment_id}", "patch", "404"): lambda client, app: client.patch(
        "/api/comments/first", json={"body": "Hi."}, headers={"X-Comment-Token": "t"}
    ),
    ("/api/comments/{comment_id}", "patch", "413"): lambda client, app: _edit(client, app, **TOO_LARGE),
    ("/api/comments/{comment_id}", "patch", "415"): lambda client, app: _edit(client, app, **PLAIN),
    ("/api/comments/{comment_id}", "patch", "422"): lambda client, app: _edit(client, app, json={"body": "x"}),
    ("/api/comments/{comment_id}", "delete", "204"): lambda client, app: _delete(client, app),
    ("/api/comments/{comment_id}", "delete", "401"): lambda client, app: _delete(client, app, None),
    ("/api/comments/{comment_id}", "delete", "403"): lambda client, app: _delete(client, app, "forged"),
    ("/api/comments/{comment_id}", "delete", "404"): lambda client, app: client.delete(
        "/api/comments/first", headers={"X-Comment-Token": "t"}
    ),
    ("/api/comments/counts", "get", "200"): lambda client, app: client.get(f"/api/comments/counts?page={ARTICLE}"),
    ("/api/comments/counts", "get", "422"): lambda client, app: client.get("/api/comments/counts"),
}
# Produced by tests that need more than the app above: a calendar that stops answering, a low rate limit.
PAUSED = "tests/test_google.py::test_free_busy_refused_for_good_pauses_booking_instead_of_failing"
PRODUCED_ELSEWHERE = {
    ("/healthz", "get", "503"): "test_degraded_health_answer_matches (above)",
    ("/api/slots", "get", "503"): PAUSED,
    ("/api/bookings", "post", "503"): PAUSED,
    (
        "/api/comments",
        "post",
        "429",
    ): "tests/test_comment_moderation.py::test_fourth_api_post_from_one_address_is_429_json",
}


def test_every_documented_api_status_has_a_test(spec):
    """Each status the document gives a JSON operation is produced by a test: the table below, or one named."""
    documented = {
        (path, method, status)
        for path, item in spec["paths"].items()
        if path.startswith("/api/") or path == "/healthz"
        for method, operation in item.items()
        if method in HTTP_METHODS
        for status in operation["responses"]
    }
    assert documented - set(API_STATUSES) - set(PRODUCED_ELSEWHERE) == set(), "documented, never produced"
    assert set(API_STATUSES) - documented == set(), "produced, not documented"


@pytest.mark.parametrize(("path", "method", "status"), sorted(API_STATUSES))
def test_documented_api_status_is_real(comment_app, comment_client, comment_spec, path, method, status):
    response = API_STATUSES[path, method, status](comment_client, comment_app)
    assert str(response.status_code) == status, response.text
    if response.status_code == 204:
        check_status(comment_spec, path, method, response)
    else:
        check_response(comment_spec, path, method, response)


# --- The request schemas are the API's own: same fields, same required ones, same limits ---------------------------


def _request_schema(spec: dict, path: str, method: str) -> dict:
    """Return the request body's schema, its $ref followed."""
    schema = spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]


def _limits(schema: dict) -> dict[str, tuple[int | None, int]]:
    """Return each string field's (minLength, maxLength), from the field or its string branch."""
    found = {}
    for name, field in schema["properties"].items():
        for branch in [field, *field.get("anyOf", [])]:
            if "maxLength" in branch:
                found[name] = (branch.get("minLength"), branch["maxLength"])
    return found


def _without_commas(errors: dict) -> dict:
    return {field: message.replace(",", "") for field, message in errors.items()}


def test_booking_api_accepts_exactly_the_fields_the_schema_declares(client, spec):
    schema = _request_schema(spec, "/api/bookings", "post")
    errors = client.post("/api/bookings", json={}).get_json()["errors"]
    assert {field for field, message in errors.items() if message == "is required"} == set(schema["required"])

    declared = {field: "x" for field in schema["properties"]}
    errors = client.post("/api/bookings", json={**declared, "nickname": "x"}).get_json()["errors"]
    assert {field for field, message in errors.items() if message == "is not a field of a booking"} == {"nickname"}


@pytest.mark.parametrize("field", ["name", "email", "phone", "notes"])
def test_booking_schema_limits_are_the_limits_enforced(client, spec, field):
    """One character over the schema's maxLength is refused with that limit; at the limit, length is no problem."""
    limits = _limits(_request_schema(spec, "/api/bookings", "post"))
    assert set(limits) == {"name", "email", "phone", "notes"}
    _, longest = limits[field]
    # Without a start nothing is booked: the answer only checks the fields.
    body = {"service": "massage-60", **CLIENT}
    over = client.post("/api/bookings", json={**body, field: "a" * (longest + 1)})
    assert over.status_code == 422
    assert over.get_json()["errors"][field] == f"must be at most {longest} characters"
    at = client.post("/api/bookings", json={**body, field: "a" * longest})
    assert "must be at most" not in at.get_json()["errors"].get(field, "")


def test_comment_api_accepts_exactly_the_fields_the_schema_declares(comment_client, comment_spec):
    schema = _request_schema(comment_spec, "/api/comments", "post")
    # Each required field, missing, is named (a missing text is "not text", the others "required").
    assert set(comment_client.post("/api/comments", json={}).get_json()["errors"]) == set(schema["required"])

    everything = {field: None for field in schema["properties"]}
    errors = comment_client.post("/api/comments", json={**everything, "nickname": "x"}).get_json()["errors"]
    assert errors == {"nickname": "is not a field of a comment"}

    edit = _request_schema(comment_spec, "/api/comments/{comment_id}", "patch")
    headers = {"X-Comment-Token": "forged"}
    refused = comment_client.patch("/api/comments/1", json={"body": "Hi.", "name": "x"}, headers=headers)
    assert set(edit["properties"]) == {"body"} and refused.get_json()["errors"] == {"name": "cannot be changed"}


def _padded(field: str, length: int) -> str:
    """Return a value of ``field`` exactly ``length`` characters long that breaks no other rule."""
    prefix = {"page": ARTICLE + "/", "website": "https://site.example/", "email": "ada@"}.get(field, "")
    suffix = ".example" if field == "email" else ""
    return prefix + "a" * (length - len(prefix) - len(suffix)) + suffix


@pytest.mark.parametrize("field", ["page", "name", "email", "website", "body"])
def test_comment_schema_limits_are_the_limits_enforced(comment_client, comment_spec, field):
    limits = _limits(_request_schema(comment_spec, "/api/comments", "post"))
    assert set(limits) == {"page", "name", "email", "website", "body"}
    shortest, longest = limits[field]
    # Without a name nothing is stored: the answer only checks the fields.
    body = {"page": ARTICLE, "email": "ada@reader.example", "body": "Hello there."}
    over = comment_client.post("/api/comments", json={**body, field: _padded(field, longest + 1)})
    assert over.status_code == 422
    assert _without_commas(over.get_json()["errors"])[field].startswith(f"must be at most {longest} characters")
    at = comment_client.post("/api/comments", json={**body, field: _padded(field, longest)})
    assert "must be at most" not in at.get_json().get("errors", {}).get(field, "")
    if shortest is not None:
        under = comment_client.post("/api/comments", json={**body, field: "x" * (shortest - 1)})
        assert under.get_json()["errors"][field] == f"must be at least {shortest} characters"


def test_comment_edit_schema_limits_are_the_limits_enforced(comment_app, comment_client, comment_spec):
    (shortest, longest) = _limits(_request_schema(comment_spec, "/api/comments/{comment_id}", "patch"))["body"]
    posted = _comment(comment_client, comment_app)
    path, headers = f"/api/comments/{posted['id']}", {"X-Comment-Token": posted["edit_token"]}
    over = comment_client.patch(path, json={"body": "a" * (longest + 1)}, headers=headers)
    assert over.status_code == 422
    assert _without_commas(over.get_json()["errors"])["body"].startswith(f"must be at most {longest} characters")
    under = comment_client.patch(path, json={"body": "x" * (shortest - 1)}, headers=headers)
    assert under.get_json()["errors"]["body"] == f"must be at least {shortest} characters"
    assert comment_client.patch(path, json={"body": "a" * longest}, headers=headers).status_code == 200

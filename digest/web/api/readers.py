"""/api/v1/subscribers: sign a reader up (pending, with the confirmation email the web form
sends) or, with an `import` key, add them as active; read, change, unsubscribe, forget."""

from __future__ import annotations

from typing import Any

from flask import Response

from digest.app import ReaderChange
from digest.models import ApiScope
from digest.web.api import present
from digest.web.api.auth import current_key, requires
from digest.web.api.blueprint import bp
from digest.web.api.body import Body
from digest.web.api.problems import Problem
from digest.web.context import core, state

Answer = tuple[dict[str, Any], int] | dict[str, Any]
NEW_FIELDS = ("email", "categories", "name", "frequency", "timezone", "delivery_day", "status")
CHANGE_FIELDS = ("categories", "name", "frequency", "timezone", "delivery_day")


@bp.post("/subscribers")
@requires(ApiScope.WRITE)
def add_subscriber() -> Answer:
    """``status`` "pending" (the default): the web sign-up's rules and confirmation email;
    202, since the reader is not subscribed until they confirm. "active": an `import` key
    vouches for the reader's consent; 201 when created, 200 when they existed."""
    body = Body(NEW_FIELDS)
    status = body.text("status", default="pending")
    if status not in ("pending", "active"):
        raise Problem(422, f"status must be 'pending' or 'active', not {status!r}")
    email = body.text("email", required=True)
    categories = body.strings("categories", required=True) or ()
    if status == "active":
        if not current_key().scope.allows(ApiScope.IMPORT):
            raise Problem(403, "adding a reader as active needs a key with scope 'import'")
        added = core().add_subscriber(
            email,
            categories,
            name=body.text("name") if body.has("name") else None,
            frequency=body.text("frequency") if body.has("frequency") else None,
            timezone=body.text("timezone") if body.has("timezone") else None,
            delivery_day=_day(body),
            source="api",
        )
        return {"subscriber": present.subscriber(added.subscriber)}, 201 if added.created else 200
    job, reader = core().api_sign_up(
        email,
        categories,
        name=body.text("name"),
        frequency=body.text("frequency", default="weekly"),
        timezone=body.text("timezone") if body.has("timezone") else None,
        delivery_day=_day(body),
    )
    state().mailer.submit(job)
    if reader is None or reader.status.operator_only:
        # Same answer as the web form: the API does not reveal bounced or forgotten readers.
        return {"subscriber": None}, 202
    return {"subscriber": present.subscriber(reader)}, 202


@bp.get("/subscribers/<int:subscriber_id>")
@requires(ApiScope.READ)
def get_subscriber(subscriber_id: int) -> Answer:
    return {"subscriber": present.subscriber(core().reader_by_id(subscriber_id))}


@bp.patch("/subscribers/<int:subscriber_id>")
@requires(ApiScope.WRITE)
def change_subscriber(subscriber_id: int) -> Answer:
    body = Body(CHANGE_FIELDS)
    change = ReaderChange(
        name=body.text("name") if body.has("name") else None,
        categories=body.strings("categories"),
        frequency=body.text("frequency") if body.has("frequency") else None,
        timezone=body.text("timezone") if body.has("timezone") else None,
        delivery_day=_day(body),
    )
    return {"subscriber": present.subscriber(core().change_reader(subscriber_id, change))}


def _day(body: Body) -> str | None:
    return body.text("delivery_day") if body.has("delivery_day") else None


@bp.post("/subscribers/<int:subscriber_id>/unsubscribe")
@requires(ApiScope.WRITE)
def unsubscribe(subscriber_id: int) -> Answer:
    """At once and idempotent, like the one-click link."""
    return {"subscriber": present.subscriber(core().unsubscribe_by_id(subscriber_id))}


@bp.delete("/subscribers/<int:subscriber_id>")
@requires(ApiScope.WRITE)
def forget(subscriber_id: int) -> Response:
    """Erase the reader's personal data (`digest subscribers forget`); 204, also when they
    were forgotten already."""
    core().forget_by_id(subscriber_id)
    return Response(status=204)

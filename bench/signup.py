"""Web sign-up answer times for known and unknown addresses (issue #12, timing enumeration).

A real SQLite file, the real Flask app (its test client: no sockets, so only our own work
is timed), and a transport that accepts every message in memory, so the mail thread's work
is the same for every case. Requests alternate known, unknown, known..., so the machine's
drift hits both alike; each side's median and their ratio are printed. tests/test_web_consent.py
checks the statements are the same either way; this only shows what that costs in time.

python -m bench.signup --requests 300
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import SECRET, median
from digest.config import Settings, WebSettings
from digest.deliver.smtp import SendResult
from digest.models import OutgoingMessage, ResultKind, SubscriberStatus
from digest.store import open_db
from digest.store import subscribers as subscribers_store
from digest.store.categories import ensure_category
from digest.web import create_app, mailer_of


class _Accepting:
    """A relay that accepts everything, instantly."""

    def send(self, message: OutgoingMessage) -> SendResult:
        return SendResult(ResultKind.SENT, 250, "2.0.0 OK")

    def close(self) -> None:
        pass


def measure(requests: int, folder: Path) -> tuple[list[float], list[float]]:
    db_path = folder / "signup.db"
    db = open_db(db_path)
    category = ensure_category(db, "Courts")
    for i in range(requests):
        new = subscribers_store.NewSubscriber(
            email=f"known{i}@example.org", status=SubscriberStatus.ACTIVE, source="bench"
        )
        subscriber_id = subscribers_store.insert_subscriber(db, new, datetime.now(UTC))
        subscribers_store.set_categories(db, subscriber_id, [category])
    db.close()
    settings = dataclasses.replace(
        Settings(),
        db_path=str(db_path),
        secret_key=SECRET,
        web=dataclasses.replace(
            WebSettings(),
            signup_limit_per_ip_per_hour=10 * requests,
            signup_limit_per_address_per_day=10,
        ),
    )
    app = create_app(settings, transport_factory=_Accepting)
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    token = found[1]
    known: list[float] = []
    unknown: list[float] = []
    for i in range(requests):
        for email, times in ((f"known{i}@example.org", known), (f"new{i}@example.org", unknown)):
            data = {"csrf_token": token, "email": email, "categories": ["courts"], "name": ""}
            started = time.perf_counter()
            response = client.post("/subscribe", data=data)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
        mailer_of(app).drain()  # the mail thread never overlaps the next pair
    mailer_of(app).close()
    return known, unknown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="sign-ups of each kind")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        known, unknown = measure(args.requests, Path(folder))
    k, u = median(known), median(unknown)
    print(f"sign-up, known address: {k:.2f} ms median of {len(known)}")
    print(f"sign-up, unknown address: {u:.2f} ms median of {len(unknown)}")
    print(f"ratio known/unknown: {k / u:.3f}")


if __name__ == "__main__":
    main()

"""How fast the editor's desk answers with 100k readers: every page, served in-process by
the Flask app `digest serve` runs (no network), timed from request to response.

The database is the benchmarks' cached one (bench/data.py) with one past edition whose
100,000 deliveries are all sent, and a draft of the next one to look at.

python -m bench.desk --subscribers 100000 --runs 20
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import time
from datetime import timedelta

from bench import data
from bench.common import OUT, SECRET, Figure, median
from digest.app import App
from digest.clock import to_db
from digest.config import Settings, SiteSettings
from digest.web.app import create_app

SECTION = "7. Desk pages"
PAGE_LIMIT_MS = 100.0
PASSWORD = "bench password, long enough"


def _setup(subscribers: int) -> tuple[Settings, str]:
    work = OUT / "desk"
    work.mkdir(parents=True, exist_ok=True)
    path = data.fresh_copy(data.database(subscribers), work / "desk.db")
    settings = dataclasses.replace(
        Settings(),
        db_path=str(path),
        secret_key=SECRET,
        site=SiteSettings(url="https://news.example.com"),
    )
    last_week = data.AS_OF - timedelta(days=7)
    core = App.open(settings, clock=lambda: last_week)
    db = core.db
    # Last week's edition, sent to everyone: the past-editions table has real counts.
    edition = core.open_edition("weekly", last_week)
    db.execute(
        "UPDATE deliveries SET status = 'sent', article_ids = '[]' WHERE edition_id = ?",
        [edition.id],
    )
    db.execute(
        "UPDATE editions SET status = 'sent', completed_at = ? WHERE id = ?",
        [to_db(last_week), edition.id],
    )
    token = core.add_editor("editor@example.com").link.rsplit("/", 1)[1]
    core.set_editor_password(token, PASSWORD)
    core.close()
    core = App.open(settings, clock=lambda: data.AS_OF)
    draft = core.prepare_edition("weekly", data.AS_OF, editor="bench").edition
    reader = next(iter(core.list_subscribers())).email
    core.close()
    return settings, f"{draft.id}|{reader}"


def pages(subscribers: int, runs: int) -> list[Figure]:
    settings, ids = _setup(subscribers)
    draft, reader = ids.split("|")
    app = create_app(settings, clock=lambda: data.AS_OF)
    client = app.test_client()
    https = "https://localhost"
    login = client.get("/admin/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', login)
    assert token is not None
    client.post(
        "/admin/login",
        data={"csrf_token": token[1], "email": "editor@example.com", "password": PASSWORD},
        base_url=https,
    )
    urls = {
        "Editions": "/admin/",
        "One edition (draft)": f"/admin/editions/{draft}",
        "One edition (sent)": "/admin/editions/1",
        "Email preview (a reader)": f"/admin/editions/{draft}/preview?reader={reader}",
        "Readers: search": "/admin/readers?q=reader12",
        "Readers: one reader": f"/admin/readers/{reader}",
        "Articles": "/admin/articles",
    }
    figures = []
    for name, url in urls.items():
        times = []
        for _ in range(runs + 1):  # the first request warms the caches: not counted
            started = time.perf_counter()
            response = client.get(url, base_url=https)
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{url}: {response.status_code}")
        value = median(times[1:])
        figures.append(
            Figure(
                SECTION,
                f"{name}, {subscribers:,} readers ({url.split('?')[0]})",
                value,
                "ms",
                f"python -m bench.desk --subscribers {subscribers} --runs {runs}",
                runs=times[1:] if runs <= 5 else [],
                target=f"< {PAGE_LIMIT_MS:g} ms",
                met=value < PAGE_LIMIT_MS,
                note=f"first request after start {times[0]:.0f} ms",
            )
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    for figure in pages(args.subscribers, args.runs):
        met = "yes" if figure.met else "NO"
        print(f"{figure.name}: {figure.formatted()} (target {figure.target}: {met}; {figure.note})")


if __name__ == "__main__":
    main()

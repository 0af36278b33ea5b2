"""Sample data for trying digest out: articles for "Legal Reader" and a few subscribers.

``articles.jsonl`` stores each article's age (``age_hours``) instead of a date, so a sample
loaded today has several articles from the last day and some older than a weekly look-back.
The articles go through the same ingest and store code as `digest articles import`
(``App.load_sample``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from digest.errors import InputError

SOURCE = "sample"


def sample_path(name: str) -> Path:
    """A sample data file shipped inside the package."""
    return Path(str(resources.files("digest.sample").joinpath(name)))


def sample_records(now: datetime) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The sample articles as ingest records, each dated ``age_hours`` before ``now``."""
    path = sample_path("articles.jsonl")
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        record = dict(json.loads(line))
        age = record.pop("age_hours", None)
        if not isinstance(age, int | float):
            raise InputError(f"{path.name}:{number}: field 'age_hours': expected a number")
        record["published"] = (now - timedelta(hours=age)).isoformat()
        yield f"{path.name}:{number}", record

"""Writing messages to a folder instead of a relay: the dry run's --output, for editors to open."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from digest.errors import InputError
from digest.models import OutgoingMessage


class Outbox:
    """``DIR/0001-reader@example.com.eml`` per message plus ``DIR/manifest.json``."""

    def __init__(self, directory: Path, limit: int | None = None) -> None:
        self.directory = directory
        self.limit = limit
        self.manifest: list[dict[str, Any]] = []
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"{directory}: cannot create output folder: {e}") from e

    @property
    def full(self) -> bool:
        return self.limit is not None and len(self.manifest) >= self.limit

    def write(self, message: OutgoingMessage, articles: tuple[str, ...]) -> None:
        if self.full:
            return
        safe = re.sub(r"[^A-Za-z0-9@._+-]", "_", message.recipient)[:80]
        name = f"{len(self.manifest) + 1:04d}-{safe}.eml"
        (self.directory / name).write_bytes(message.data)
        self.manifest.append(
            {
                "file": name,
                "recipient": message.recipient,
                "subject": message.subject,
                "articles": list(articles),
                "size": len(message.data),
            }
        )

    def close(self) -> None:
        (self.directory / "manifest.json").write_text(
            json.dumps(self.manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )

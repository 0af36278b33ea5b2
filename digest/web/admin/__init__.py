"""The editor's desk, the fourth adapter: /admin/ pages over the core's desk use cases
(digest.app.desk, .editors, .lookups). Behind a login; see guard.py for what every page goes
through."""

from __future__ import annotations

from digest.web.admin import pages, people, stats
from digest.web.admin.guard import bp

__all__ = ["bp", "pages", "people", "stats"]

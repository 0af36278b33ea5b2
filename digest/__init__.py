"""digest: a self-hosted category digest mailer.

The pipeline reads top to bottom in the module names: store, ingest, curate, render, mime,
deliver, schedule, web. The CLI in :mod:`digest.cli` is a thin shell over these functions.
"""

from __future__ import annotations

from digest.errors import DigestError

__version__ = "0.1.0"

__all__ = ["DigestError", "__version__"]

"""Rendering: personalised messages per second for one content variant and for 50, the cost
of one variant (Jinja2 + MJML + 7-bit + MIME) and of the MJML compile inside it.

In-process, through the pieces the send loop uses (App.curator's Curator.select,
Renderer.render_variant, Renderer.personalise), on the benchmark articles (bench/data.py).

python -m bench.render --messages 20000 --runs 3
"""

from __future__ import annotations

import argparse
import itertools
import time

from mjml import mjml2html

from bench import data
from bench.common import SECRET, BenchError, Figure, median
from digest.app import App
from digest.config import Settings
from digest.curate import edition_window
from digest.models import DigestContent, Recipient
from digest.render import RenderedVariant, Renderer
from digest.store import Store

SECTION = "3. Rendering"
PERSONALISE_TARGET = 10_000.0
VARIANTS = 50
NAMES = ("Zoë Reader", "Jane Smith", "", "José Álvarez")


def _contents(settings: Settings, count: int) -> list[DigestContent]:
    """``count`` distinct digests: readers of 3 categories each, 15 articles apiece."""
    app = App(settings, Store(data.database(0)))
    try:
        curator = app.curator(edition_window(settings, "weekly", data.AS_OF))
        contents = []
        for combo in itertools.combinations(range(1, len(data.CATEGORIES) + 1), 3):
            content = curator.select(combo, None)
            if content is not None:
                contents.append(content)
            if len(contents) == count:
                return contents
    finally:
        app.close()
    raise BenchError(f"only {len(contents)} distinct digests in the benchmark articles")


def _recipients(count: int) -> list[Recipient]:
    return [
        Recipient(i, f"reader{i}@mail{i % 97}.example.org", NAMES[i % len(NAMES)])
        for i in range(1, count + 1)
    ]


def _personalise_all(
    renderer: Renderer, variants: list[RenderedVariant], recipients: list[Recipient]
) -> int:
    """Recipients in variant order, as the send loop takes them; returns bytes made."""
    made = 0
    per_variant = len(recipients) // len(variants)
    for n, recipient in enumerate(recipients):
        variant = variants[min(n // per_variant, len(variants) - 1)]
        message = renderer.personalise(
            variant, recipient, message_id=f"<{n}.bench@news.example.com>", date=data.AS_OF
        )
        made += len(message.data)
    return made


def run(messages: int, runs: int) -> list[Figure]:
    settings = Settings(secret_key=SECRET)
    contents = _contents(settings, VARIANTS)
    recipients = _recipients(messages)
    compile_ms: list[float] = []

    def timed_compiler(source: str) -> str:
        started = time.perf_counter()
        html = str(mjml2html(source))
        compile_ms.append((time.perf_counter() - started) * 1000)
        return html

    one: list[float] = []
    many: list[float] = []
    variant_ms: list[float] = []
    compiles: list[float] = []
    size = 0
    for _ in range(runs):
        renderer = Renderer(settings, compiler=timed_compiler)
        variant = renderer.render_variant(contents[0])
        started = time.perf_counter()
        size = _personalise_all(renderer, [variant], recipients) // messages
        one.append(messages / (time.perf_counter() - started))

        # 50 variants, timed from the first render to the last message: what a send with
        # this many distinct digests pays per message, compiles included.
        renderer = Renderer(settings, compiler=timed_compiler)
        started = time.perf_counter()
        variants = []
        for content in contents:
            t = time.perf_counter()
            variants.append(renderer.render_variant(content))
            variant_ms.append((time.perf_counter() - t) * 1000)
        _personalise_all(renderer, variants, recipients)
        many.append(messages / (time.perf_counter() - started))
        compiles.append(float(renderer.compile_count))

    cmd = f"python -m bench.render --messages {messages} --runs {runs}"
    rate = median(one)
    return [
        Figure(
            SECTION,
            f"personalise, one variant ({messages:,} messages)",
            rate,
            "msg/s",
            cmd,
            one,
            target=f">= {PERSONALISE_TARGET:,.0f} msg/s",
            met=rate >= PERSONALISE_TARGET,
            note=f"{size:,} bytes a message",
        ),
        Figure(
            SECTION,
            f"render + personalise, {VARIANTS} variants ({messages:,} messages)",
            median(many),
            "msg/s",
            cmd,
            many,
        ),
        Figure(
            SECTION,
            "render_variant (Jinja2 x2, MJML, 7-bit, MIME), 15 articles",
            median(variant_ms),
            "ms",
            cmd,
            note=f"median of {len(variant_ms)}",
        ),
        Figure(
            SECTION,
            "MJML compile (mjml-python) inside it",
            median(compile_ms),
            "ms",
            cmd,
            note=f"median of {len(compile_ms)}",
        ),
        Figure(
            SECTION,
            f"MJML compiles for {VARIANTS} variants",
            median(compiles),
            "compiles",
            cmd,
            compiles,
            note="one per variant; more would mean trimming re-renders",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for figure in run(args.messages, args.runs):
        print(f"{figure.name}: {figure.formatted()}  runs={[round(r, 2) for r in figure.runs]}")


if __name__ == "__main__":
    main()

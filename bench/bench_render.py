"""Render and personalise timings for a 15-article digest (see PERF-NOTES.md).

python bench/bench_render.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from mjml import mjml2html

from digest.checks import sample_content
from digest.config import Settings
from digest.mime import build_body
from digest.models import Recipient
from digest.render import Renderer


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    renderer = Renderer(Settings(secret_key="bench"))
    content = sample_content()
    variant = renderer.render_variant(content)
    tokens = renderer.placeholders.tokens
    context = renderer._digest_context(content, variant.subject, variant.preheader, ["a"])
    source = renderer._render(
        "digest.mjml.j2",
        {
            **context,
            "unsubscribe_url": tokens["unsub_html"],
            "preferences_url": tokens["prefs_html"],
        },
    )
    print(f"articles: {content.article_count}, MJML in: {len(source)} bytes")
    print(f"MJML compile: {median_ms(lambda: mjml2html(source), 200):.2f} ms")
    print(
        f"build_body (MIME, once per variant): "
        f"{median_ms(lambda: build_body(variant.text, variant.html), 100):.2f} ms"
    )
    print(
        f"render_variant total (Jinja x2 + MJML + 7-bit + MIME): "
        f"{median_ms(lambda: renderer.render_variant(content), 50):.2f} ms"
    )
    print(
        f"encoded HTML part (max, personalised): {variant.html_size} bytes; "
        f"message {len(variant.template.data)} bytes"
    )
    n = 20_000
    recipients = [Recipient(i, f"reader{i}@example.org", "Zoë Reader") for i in range(n)]
    t = time.perf_counter()
    for r in recipients:
        renderer.personalise(
            variant, r, message_id=f"<{r.subscriber_id}@x.example>", date=content.ends_at
        )
    dt = time.perf_counter() - t
    print(f"personalise: {dt / n * 1e6:.1f} us/msg, {n / dt:,.0f} msgs/s (one variant)")


if __name__ == "__main__":
    main()

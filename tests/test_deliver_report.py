from __future__ import annotations

from digest.deliver.report import SendReport


def test_size_summary_from_the_histogram() -> None:
    report = SendReport(frequency="weekly", period="2026-W48", edition_id=None)
    assert report.size_summary() == (0, 0)
    for size in (100, 300, 200, 200, 900):
        report.sizes[size] += 1
    assert report.size_summary() == (200, 900)
    report.sizes[50] += 1  # six sizes: the lower middle one
    assert report.size_summary() == (200, 900)
    assert report.as_dict()["message_size_median"] == 200

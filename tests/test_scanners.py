"""Telling scanners from readers (digest/scanners.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from digest.scanners import BurstRule, BurstWindow, scanner_agent
from tests.builders import NOW


@pytest.mark.parametrize(
    ("agent", "image", "scanner"),
    [
        ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", False, False),
        ("", False, True),
        ("Mozilla/5.0 (compatible; Microsoft Office 365 SafeLinks)", False, True),
        ("Barracuda Sentinel (EE)", False, True),
        ("python-requests/2.32.3", False, True),
        (
            "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com "
            "GoogleImageProxy)",
            True,
            True,
        ),
        # A reader clicking in Gmail is not the image proxy.
        (
            "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com "
            "GoogleImageProxy)",
            False,
            False,
        ),
        ("YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", True, True),
    ],
)
def test_scanner_agents(agent: str, image: bool, scanner: bool) -> None:
    assert scanner_agent(agent, image=image) is scanner


def test_a_burst_of_different_links_is_a_scanner_and_names_the_earlier_clicks() -> None:
    window = BurstWindow(BurstRule(links=3, seconds=5))
    assert window.add("ip", ("a", 1), NOW, scanner=False) == (False, [])
    assert window.add("ip", ("a", 1), NOW, scanner=False) == (False, [])  # the same link
    assert window.add("other", ("b", 1), NOW, scanner=False) == (False, [])  # someone else
    assert window.add("ip", ("b", 1), NOW + timedelta(seconds=1), scanner=False) == (False, [])
    third = window.add("ip", ("c", 2), NOW + timedelta(seconds=2), scanner=False)
    assert third == (True, [("a", 1), ("a", 1), ("b", 1)])
    # Already recounted: the next one of the burst names no earlier reader click.
    assert window.add("ip", ("d", 2), NOW + timedelta(seconds=3), scanner=False) == (True, [])


def test_links_further_apart_than_the_window_are_a_reader() -> None:
    window = BurstWindow(BurstRule(links=3, seconds=5))
    for i, link in enumerate(("a", "b", "c", "d")):
        burst, _ = window.add("reader", (link, 1), NOW + timedelta(seconds=3 * i), scanner=False)
        assert not burst

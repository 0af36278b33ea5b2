"""Telling link scanners and image prefetchers from readers (docs/tracking.md, Scanners).

Mail security gateways fetch every link of a message before (or instead of) the reader, and
mail providers fetch images through proxies. Their requests are still answered, so a real
reader behind them loses nothing, but they are counted apart (``scanner = 1``). Three signs,
each cheap and none certain:

- a HEAD request: a browser following a link sends GET;
- a user agent from the short list below;
- a burst: one reader (or, in anonymous mode, one client address) fetching several different
  links of one edition within a few seconds, shortly after the delivery. People read one
  article, then another; a scanner takes them all at once.

Pure and in memory: the burst window holds article keys and times for a few seconds and is
never written anywhere, so in anonymous mode the client address never reaches the database.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# Lower-case substrings of User-Agent headers that name a scanner or prefetcher. Kept short
# and specific (docs/tracking.md says where each comes from); a generic "bot" would also
# match readers' apps that put it in their names.
CLICK_SCANNER_AGENTS = (
    "safelinks",  # Microsoft Defender for Office 365 Safe Links
    "microsoft-urlanalyzer",
    "barracuda",  # Barracuda Email Security Gateway link protection
    "proofpoint",  # Proofpoint URL Defense
    "mimecast",  # Mimecast URL Protect
    "ironport",  # Cisco Secure Email
    "forcepoint",
    "trendmicro",
    "python-requests",
    "curl/",
    "wget/",
    "headlesschrome",
)
# Images are also fetched by the providers' proxies, when the message arrives or is opened:
# that is not a reader looking (Gmail's proxy says "GoogleImageProxy", Yahoo's
# "YahooMailProxy").
OPEN_SCANNER_AGENTS = (*CLICK_SCANNER_AGENTS, "googleimageproxy", "yahoomailproxy")


def scanner_agent(user_agent: str, *, image: bool = False) -> bool:
    """True for an empty User-Agent or one naming a known scanner (``image``: or proxy)."""
    agent = user_agent.strip().lower()
    if not agent:
        return True
    names = OPEN_SCANNER_AGENTS if image else CLICK_SCANNER_AGENTS
    return any(name in agent for name in names)


@dataclass(frozen=True)
class BurstRule:
    """``links`` different links from one client within ``seconds`` of each other is a
    scanner, when the first came within ``after_delivery`` of the delivery (per-reader mode;
    in anonymous mode the delivery time is not known and only the window counts)."""

    links: int = 3
    seconds: float = 5.0
    after_delivery: timedelta = timedelta(minutes=15)


Link = tuple[str, int]  # (article id, category id)


@dataclass
class _Seen:
    at: datetime
    link: Link
    scanner: bool


@dataclass
class BurstWindow:
    """Recent clicks per client, in memory, a few seconds deep. ``add`` says whether this
    click completes a burst and which earlier clicks of the burst were counted as a
    reader's, so the caller can count them again as a scanner's. Thread-safe: waitress
    serves each request on its own thread."""

    rule: BurstRule = field(default_factory=BurstRule)
    max_clients: int = 100_000
    _recent: dict[Hashable, deque[_Seen]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self, client: Hashable, link: Link, at: datetime, *, scanner: bool
    ) -> tuple[bool, list[Link]]:
        """Record a click of ``link`` by ``client``. Returns (is part of a burst, the earlier
        links of the burst that were counted as a reader's)."""
        window = timedelta(seconds=self.rule.seconds)
        with self._lock:
            seen = self._recent.get(client)
            if seen is None:
                if len(self._recent) >= self.max_clients:
                    self._forget_older(at - window)
                seen = self._recent[client] = deque()
            while seen and at - seen[0].at > window:
                seen.popleft()
            entry = _Seen(at, link, scanner)
            seen.append(entry)
            if len({s.link for s in seen}) < self.rule.links:
                return scanner, []
            earlier = [s.link for s in seen if not s.scanner and s is not entry]
            for s in seen:
                s.scanner = True
            return True, earlier

    def _forget_older(self, cutoff: datetime) -> None:
        for key in [k for k, v in self._recent.items() if not v or v[-1].at < cutoff]:
            del self._recent[key]
        if len(self._recent) >= self.max_clients:  # a flood of addresses: start again
            self._recent.clear()

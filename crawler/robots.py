"""What a host's robots.txt asks of the discovery crawl (issue 18), read with Protego (the parser
Scrapy itself uses), never by hand.

``Crawl-delay`` is always honoured: it goes into the shared politeness budget, so every
component of the round (probes, browser journeys) slows down for that host too. ``Disallow``
is obeyed or not as ``politeness.robots_disallow`` says (crawler/polite.py). A robots.txt that
cannot be read (404, 5xx, a timeout, a firewall page, an HTML page served for every path) means
no rules: that is what the standard says of a missing file, and a site whose robots.txt is
broken has not asked anything of us."""

from __future__ import annotations

from dataclasses import dataclass

from protego import Protego

# The product token robots.txt groups name us by (``User-agent: hotline-audit``); without a
# group of its own, ``User-agent: *`` applies. Matching on the full User-Agent string would let
# a ``User-agent: Mozilla`` group meant for browsers apply to us.
ROBOTS_AGENT = "hotline-audit"
MAX_ROBOTS_BYTES = 500_000  # Google reads the first 500 KiB; beyond is no rule either


@dataclass
class HostRobots:
    """One host's robots.txt as this crawl read it."""

    host: str
    fetched: str  # "read", or why there are no rules: "HTTP 404", "TimeoutError", "rate_limited" ...
    parser: Protego | None = None
    crawl_delay: float | None = None

    def allows(self, url: str) -> bool:
        return self.parser is None or self.parser.can_fetch(url, ROBOTS_AGENT)

    @property
    def facts(self) -> dict[str, object]:
        """Short and JSON-serialisable, for a hotline's discovery notes."""
        return {"host": self.host, "robots_txt": self.fetched, "crawl_delay": self.crawl_delay}


def read_robots(host: str, status: int, content_type: str, body: bytes) -> HostRobots:
    """A robots.txt answer (not a throttling one: the caller has checked) as rules."""
    if status != 200:
        return HostRobots(host, f"HTTP {status}")
    head = body[:MAX_ROBOTS_BYTES].lstrip()
    if "html" in content_type.lower() or head[:1] == b"<":
        # Many portals answer every unknown path with their homepage: that is no robots.txt.
        return HostRobots(host, "an HTML page, not a robots.txt")
    text = head.decode("utf-8", errors="ignore")
    try:
        parser = Protego.parse(text)
    except Exception as exc:  # noqa: BLE001 (a file Protego cannot read is no rules, not a crash)
        return HostRobots(host, f"unreadable ({type(exc).__name__})")
    return HostRobots(host, "read", parser, parser.crawl_delay(ROBOTS_AGENT))

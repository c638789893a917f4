"""Channels the registry already names. Discovery (Scrapy) adds the rest in a later stage."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from hotline_audit.model import Channel, Hotline


def canonical_url(url: str) -> str:
    """The one form channels.csv writes a URL in: lower-case scheme and host, no fragment."""
    parts = urlsplit(url.strip())
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def known_channels(hotline: Hotline) -> list[Channel]:
    channels = []
    if hotline.website:
        channels.append(
            Channel(hotline_id=hotline.hotline_id, kind="website", value=canonical_url(hotline.website),
                    found_on="registry", text=hotline.name)
        )
    return channels

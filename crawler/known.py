"""Channels the registry already names. Discovery (Scrapy) adds the rest in a later stage."""

from __future__ import annotations

from hotline_audit.model import Channel, Hotline

from .extract import canonical_url


def known_channels(hotline: Hotline) -> list[Channel]:
    channels = []
    if hotline.website:
        channels.append(
            Channel(hotline_id=hotline.hotline_id, kind="website", value=canonical_url(hotline.website),
                    found_on="registry", text=hotline.name)
        )
    if hotline.h5:
        channels.append(Channel(hotline_id=hotline.hotline_id, kind="h5", value=canonical_url(hotline.h5),
                                found_on="registry", text=hotline.name))
    return channels

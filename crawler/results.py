"""Turn the spider's raw findings into each hotline's channel list and failure list."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hotline_audit.model import Channel


@dataclass
class Discovery:
    channels: dict[str, list[Channel]] = field(default_factory=lambda: defaultdict(list))
    failures: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    notes: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    page_qrs: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    offsite: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    # Throttling answers and robots.txt facts (crawler/polite.py), per hotline.
    politeness: dict[str, dict[str, Any]] = field(default_factory=dict)

    def notes_for(self, hotline_id: str) -> dict[str, Any]:
        """What discovery saw besides channels, as stored with the hotline's observations."""
        return {"failures": self.failures.get(hotline_id, []), "notes": self.notes.get(hotline_id, []),
                "page_qrs": self.page_qrs.get(hotline_id, []),
                "offsite": [list(o) for o in self.offsite.get(hotline_id, [])],
                "politeness": self.politeness.get(hotline_id, {})}


def resolve(items: Iterable[dict[str, Any]]) -> Discovery:
    """One channel per (kind, value), the first place it was seen kept as provenance. WeChat
    accounts are written as their gh_ id where a page shows it, else as the link their QR code
    encodes; page-URL QR codes are kept apart (they are not accounts). A mini-program is its
    AppID where a page or a ``weixin://`` link gives it, else the name a page tells citizens to
    search for in WeChat (微信搜索小程序“…”), else the link its code encodes. An entry known only by its page's form (a letter
    form behind 互动交流) counts where no link's words named one of its kind: the first such page."""
    out = Discovery()
    seen: set[tuple[str, str, str]] = set()
    qr_links: dict[str, list[dict[str, Any]]] = defaultdict(list)
    mini_program_names: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_form: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        hid = item.get("hotline_id") or ""
        kind = item.get("type")
        if kind == "channel":
            key = (hid, item["kind"], item["value"])
            if key not in seen:
                seen.add(key)
                out.channels[hid].append(Channel.model_validate({k: v for k, v in item.items() if k != "type"}))
        elif kind == "wechat_qr":
            qr_links[hid].append(item)
        elif kind in ("mini_program_name", "mini_program_qr"):
            mini_program_names[hid].append(item)
        elif kind == "form_channel":
            by_form[hid].append(item)
        elif kind == "failure":
            out.failures[hid].append(item)
        elif kind == "note":
            out.notes[hid].append(item["note"])
        elif kind == "page_qr":
            out.page_qrs[hid].append(item["url"])
        elif kind == "offsite":
            out.offsite[hid].append((item["url"], item.get("text", "")))
        elif kind == "politeness":
            out.politeness[hid] = {k: v for k, v in item.items() if k not in ("type", "hotline_id")}
    for hid, links in qr_links.items():
        if any(c.kind == "wechat" for c in out.channels[hid]):
            continue
        first = links[0]
        out.channels[hid].append(Channel(hotline_id=hid, kind="wechat", value=first["value"],
                                         found_on=first["found_on"], element=first.get("element"),
                                         text=first.get("text")))
    for hid, found in by_form.items():
        for item in found:
            if not any(c.kind == item["kind"] for c in out.channels[hid]):
                out.channels[hid].append(Channel.model_validate({k: v for k, v in item.items() if k != "type"}))
    for hid, names in mini_program_names.items():
        if any(c.kind == "mini_program" for c in out.channels[hid]):
            continue
        first = min(names, key=lambda i: i["type"] != "mini_program_name")  # a name before a code's link
        out.channels[hid].append(Channel(hotline_id=hid, kind="mini_program", value=first["value"],
                                         found_on=first["found_on"], element=first.get("element"),
                                         text=first.get("text")))
    return out

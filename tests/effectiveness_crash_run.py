"""One submission journey in its own process, for the SIGKILL tests: with
``HOTLINE_AUDIT_CRASH_AT`` set, ``crash_point`` kills this process mid-submission.

    python -m tests.effectiveness_crash_run PROXY DB_URL OUT_DIR HOTLINE_ID ROUND

Prints the ledger's case as JSON when it gets to the end.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path

import httpx

from crawler.known import known_channels
from hotline_audit.ledger import Ledger
from hotline_audit.store import Store
from journeys.browser import BrowserPool
from journeys.effectiveness import observe_effectiveness
from journeys.stability import JourneyContext

from .effectiveness_support import journey_settings, population


async def main(proxy: str, db: str, out: str, hotline_id: str, round_name: str) -> None:
    settings = journey_settings(proxy, Path(out), db)
    ledger = Ledger(Store(settings.db))
    hotline = next(h for h in population() if h.hotline_id == hotline_id)
    async with httpx.AsyncClient(proxy=proxy, trust_env=False) as client:
        now = datetime.fromisoformat((await client.get("http://simweb.test/_clock")).json()["now"])
    async with BrowserPool(settings.browser, settings.proxy, settings.network) as pool:
        ctx = JourneyContext(settings, pool, settings.out / round_name, asyncio.Semaphore(4))
        obs, _ = await observe_effectiveness(ctx, hotline, known_channels(hotline), ledger, round_name, now=now)
    case = ledger.get(hotline_id, round_name, obs.scenario_id or "")
    assert case is not None
    print(json.dumps({"state": case.state, "receipt": case.receipt, "presses": case.presses,
                      "resubmits": case.resubmits, "tool_error": obs.tool_error}, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))

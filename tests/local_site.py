"""A throwaway web server on loopback, for browser tests of pages the test writes itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from hotline_audit.config import NetworkSettings

# Pages these tests serve live on loopback, which audited sites may not reach by default
# (hotline_audit/netguard.py): tests that browse them allow it, as an auditor could.
LOOPBACK = NetworkSettings(allow_hosts=["127.0.0.0/8", "localhost", "::1"])

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def serve(routes: dict[str, Handler], host: str = "127.0.0.1",
                posts: dict[str, Handler] | None = None) -> tuple[web.AppRunner, str]:
    """Serve GET ``routes`` (aiohttp paths, e.g. ``/img/{case}``) and POST ``posts`` on a free
    port: (runner to ``cleanup()``, base URL)."""
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    for path, handler in (posts or {}).items():
        app.router.add_post(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, 0).start()
    return runner, f"http://{host}:{runner.addresses[0][1]}"

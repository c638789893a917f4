"""Repeated plain HTTP probes of a website, the way the government-site census probes.

Probe *i* starts at ``t0 + i * spacing`` whether or not earlier probes have answered, as a
monitoring schedule does; so a round's probing takes about ``count * spacing + timeout``.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from urllib.parse import urlsplit

import httpx

from hotline_audit.config import ProbeSettings
from hotline_audit.model import Probe, utcnow

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36 hotline-audit"
)


def make_client(proxy: str | None, timeout_s: float, cookies: dict[str, str] | None = None) -> httpx.AsyncClient:
    """An HTTP client that goes through ``proxy`` except for loopback, as Chromium does."""
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    if proxy:
        mounts = {f"all://{h}": httpx.AsyncHTTPTransport() for h in ("127.0.0.1", "localhost")}
        mounts["all://"] = httpx.AsyncHTTPTransport(proxy=proxy)
    return httpx.AsyncClient(
        mounts=mounts or None,
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=True,
        max_redirects=10,
        headers={"User-Agent": USER_AGENT, "Accept-Language": "zh-CN,zh;q=0.9"},
        cookies=cookies,
        trust_env=False,
    )


def uses_proxy(url: str, proxy: str | None) -> bool:
    return bool(proxy) and (urlsplit(url).hostname or "") not in {h.strip("[]") for h in LOOPBACK_HOSTS}


async def probe_once(client: httpx.AsyncClient, url: str, settings: ProbeSettings, via_proxy: bool) -> Probe:
    started = utcnow()
    t0 = time.perf_counter()

    def done(**kw: object) -> Probe:
        return Probe(started_at=started, elapsed_ms=round((time.perf_counter() - t0) * 1000, 1), **kw)

    try:
        async with asyncio.timeout(settings.timeout_s):
            async with client.stream("GET", url) as resp:
                size = 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size >= settings.max_body_bytes:
                        break
                status = resp.status_code
                final = str(resp.url)
                if status >= 400:
                    kind = "challenge" if status == 412 else "http_status"
                    return done(ok=False, status=status, error_kind=kind, error=f"HTTP {status}",
                                final_url=final, bytes=size)
                return done(ok=True, status=status, final_url=final, bytes=size)
    except TimeoutError:
        return done(ok=False, error_kind="timeout", error=f"no complete answer within {settings.timeout_s:g} s")
    except httpx.TooManyRedirects as exc:
        return done(ok=False, error_kind="redirect_loop", error=str(exc)[:200])
    except httpx.ProxyError as exc:
        return done(ok=False, error_kind="proxy", error=str(exc)[:200] or "proxy error", side="tool")
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        if isinstance(exc.__cause__ or exc.__context__, ssl.SSLError) or "SSL" in str(exc):
            return done(ok=False, error_kind="tls", error=str(exc.__cause__ or exc)[:200])
        if via_proxy:  # every connection goes to the proxy: failing to reach it is on our side
            return done(ok=False, error_kind="proxy_unreachable", error=str(exc)[:200] or "cannot reach proxy", side="tool")
        return done(ok=False, error_kind="connect", error=str(exc)[:200] or "connection failed")
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        return done(ok=False, error_kind="protocol", error=str(exc)[:200] or type(exc).__name__)
    except httpx.TimeoutException:
        return done(ok=False, error_kind="timeout", error=f"timed out ({settings.timeout_s:g} s)")
    except httpx.HTTPError as exc:
        return done(ok=False, error_kind="client", error=f"{type(exc).__name__}: {exc}"[:200], side="tool")


async def probe_series(
    url: str,
    settings: ProbeSettings,
    proxy: str | None,
    limiter: asyncio.Semaphore,
    cookies: dict[str, str] | None = None,
) -> list[Probe]:
    """``settings.count`` probes on a fixed schedule; at most ``limiter`` in flight overall."""
    via_proxy = uses_proxy(url, proxy)
    async with make_client(proxy, settings.timeout_s, cookies) as client:
        async def scheduled(i: int) -> Probe:
            await asyncio.sleep(i * settings.spacing_s)
            async with limiter:
                return await probe_once(client, url, settings, via_proxy)

        return list(await asyncio.gather(*(scheduled(i) for i in range(settings.count))))

"""Repeated plain HTTP probes of a website, the way the government-site census probes, and one
look at its TLS certificate per round (``observe_tls``).

Probe *i* starts at ``t0 + i * spacing`` whether or not earlier probes have answered, as a
monitoring schedule does; so a round's probing takes about ``count * spacing + timeout``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import ipaddress
import math
import socket
import ssl
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from hotline_audit.config import ProbeSettings
from hotline_audit.model import Probe, TlsFacts, utcnow
from hotline_audit.netguard import Refusal, TargetPolicy
from hotline_audit.politeness import (
    THROTTLE_REASONS,
    Politeness,
    Ticket,
    classify,
    host_of,
    page_facts,
    retry_after_s,
    user_agent,
)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
THROTTLE_READ_BYTES = 16_384  # a firewall page is short: only this much is read for its words
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36 hotline-audit"
)


class RefusedTarget(Exception):
    """A request (the first or a redirect) aimed at the auditor's own network: never sent."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.reason_en)
        self.refusal = refusal


def guard_hook(policy: TargetPolicy) -> Callable[[httpx.Request], Awaitable[None]]:
    """An httpx request hook that refuses, before it is sent, every request (redirects
    included) whose target is off limits by ``policy``; lookups are remembered per client."""
    seen: dict[str, Refusal | None] = {}

    async def check(request: httpx.Request) -> None:
        url = str(request.url)
        key = f"{request.url.scheme}://{request.url.host}"
        if key not in seen:
            seen[key] = await asyncio.to_thread(policy.refusal, url)
        refusal = seen[key]
        if refusal is not None:
            raise RefusedTarget(Refusal(url, refusal.host, refusal.address, refusal.kind, refusal.at))

    return check


@dataclass
class _Pacing:
    """The current probe's dealings with the politeness budget (a context variable, so that
    the client's hooks, shared by concurrent probes, book to the right one)."""

    prepaid: Ticket | None = None  # the first request's slot, taken before the clock started
    holds: list[list[float]] = field(default_factory=list)  # [start, end or 0.0], perf_counter
    visited: set[str] = field(default_factory=set)  # URLs that redirected (a loop repeats one)
    tickets: list[Ticket] = field(default_factory=list)  # given back at the end, answered or not

    def held_s(self) -> float:
        now = time.perf_counter()
        return sum((end or now) - start for start, end in self.holds)


_PACING: contextvars.ContextVar[_Pacing | None] = contextvars.ContextVar("probe_pacing", default=None)


def pacing_hooks(budget: Politeness, hotline_id: str = "") -> tuple[Callable[[httpx.Request], Awaitable[None]],
                                                                  Callable[[httpx.Response], Awaitable[None]]]:
    """httpx request/response hooks: every request (redirect hops too) waits for its host's
    politeness slot, which is given back with the answer. Time spent waiting is the probe's
    ``held_s``: ours, not the site's."""

    async def take(request: httpx.Request) -> None:
        pacing = _PACING.get()
        if pacing is not None and pacing.prepaid is not None and host_of(str(request.url)) == pacing.prepaid.host:
            ticket, pacing.prepaid = pacing.prepaid, None
        else:
            hold = [time.perf_counter(), 0.0]
            if pacing is not None:
                pacing.holds.append(hold)
            try:
                ticket = await budget.acquire(str(request.url), hotline_id)
            finally:
                hold[1] = time.perf_counter()
        request.extensions["politeness_ticket"] = ticket
        if pacing is not None:
            pacing.tickets.append(ticket)

    async def give_back(response: httpx.Response) -> None:
        ticket: Ticket | None = response.request.extensions.pop("politeness_ticket", None)
        if ticket is not None:
            budget.release(ticket, response.status_code)
        pacing = _PACING.get()
        if pacing is not None and response.is_redirect:
            # A loop is known at its first repeat: following it ten times more would only
            # send the site (and its firewall) ten more requests.
            here = str(response.request.url)
            if here in pacing.visited:
                raise httpx.TooManyRedirects(f"redirect loop back to {here}", request=response.request)
            pacing.visited.add(here)

    return take, give_back


def make_client(proxy: str | None, timeout_s: float, cookies: dict[str, str] | None = None,
                policy: TargetPolicy | None = None, budget: Politeness | None = None,
                hotline_id: str = "", agent: str | None = None) -> httpx.AsyncClient:
    """An HTTP client that goes through ``proxy`` except for loopback, as Chromium does, and
    never into the auditor's network (``policy``; the strictest when None); with ``budget``
    every request takes its host's politeness slot first."""
    hooks: list[Any] = list(pacing_hooks(budget, hotline_id)) if budget is not None else []
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    if proxy:
        mounts = {f"all://{h}": httpx.AsyncHTTPTransport() for h in ("127.0.0.1", "localhost")}
        mounts["all://"] = httpx.AsyncHTTPTransport(proxy=proxy)
    return httpx.AsyncClient(
        mounts=mounts or None,
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=True,
        max_redirects=10,
        headers={"User-Agent": agent or USER_AGENT, "Accept-Language": "zh-CN,zh;q=0.9"},
        cookies=cookies,
        trust_env=False,
        event_hooks={"request": [guard_hook(policy or TargetPolicy()), *hooks[:1]], "response": hooks[1:]},
    )


def uses_proxy(url: str, proxy: str | None) -> bool:
    return bool(proxy) and (urlsplit(url).hostname or "") not in {h.strip("[]") for h in LOOPBACK_HOSTS}


async def probe_once(client: httpx.AsyncClient, url: str, settings: ProbeSettings, via_proxy: bool,
                     budget: Politeness | None = None, prepaid: Ticket | None = None) -> Probe:
    """One GET. With a paced client (``budget``, its hooks' budget) ``prepaid`` is the first
    request's slot, taken before the clock starts; any later wait for a redirect hop's slot is
    taken out of the time."""
    pacing = _Pacing(prepaid=prepaid)
    token = _PACING.set(pacing)
    try:
        started = utcnow()
        t0 = time.perf_counter()

        def done(**kw: object) -> Probe:
            spent = time.perf_counter() - t0 - pacing.held_s()
            return Probe(started_at=started, elapsed_ms=round(spent * 1000, 1), **kw)

        fetch = asyncio.ensure_future(_fetch(client, url, settings))
        try:
            # The timeout is the site's: time our budget holds a redirect hop back is added.
            while not fetch.done():
                left = settings.timeout_s - (time.perf_counter() - t0 - pacing.held_s())
                if left <= 0:
                    raise TimeoutError
                await asyncio.wait({fetch}, timeout=left)
            return done(**fetch.result())
        finally:
            fetch.cancel()
            with contextlib.suppress(BaseException):
                await fetch
    except TimeoutError:
        return done(ok=False, error_kind="timeout", error=f"no complete answer within {settings.timeout_s:g} s")
    except RefusedTarget as refused:
        return done(ok=False, error_kind="private_address", error=f"refused: {refused.refusal.reason_en}"[:200],
                    final_url=refused.refusal.target[:500])
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
    finally:
        if budget is not None:  # slots of requests never sent or never answered (timeouts)
            for ticket in [pacing.prepaid, *pacing.tickets]:
                if ticket is not None and ticket.inflight_id is not None:
                    budget.release(ticket)
        _PACING.reset(token)


async def _fetch(client: httpx.AsyncClient, url: str, settings: ProbeSettings) -> dict[str, Any]:
    """The GET itself: what the probe records (raises what the client raises)."""
    async with client.stream("GET", url) as resp:
        size = 0
        head = bytearray()
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            if len(head) < THROTTLE_READ_BYTES:
                head += chunk[:THROTTLE_READ_BYTES - len(head)]
            if size >= settings.max_body_bytes:
                break
        status = resp.status_code
        final = str(resp.url)
        kind = classify(status, resp.headers, *page_facts(bytes(head), resp.encoding)) \
            if size <= THROTTLE_READ_BYTES or status >= 400 else None
        if kind is not None:
            return {"ok": False, "status": status, "error_kind": kind, "final_url": final, "bytes": size,
                    "error": f"{THROTTLE_REASONS[kind][1]} (HTTP {status})",
                    "retry_after_s": retry_after_s(resp.headers.get("retry-after"))}
        if status >= 400:
            kind = "challenge" if status == 412 else "http_status"
            return {"ok": False, "status": status, "error_kind": kind, "error": f"HTTP {status}",
                    "final_url": final, "bytes": size}
        return {"ok": True, "status": status, "final_url": final, "bytes": size}


async def probe_series(
    url: str,
    settings: ProbeSettings,
    proxy: str | None,
    limiter: asyncio.Semaphore,
    cookies: dict[str, str] | None = None,
    policy: TargetPolicy | None = None,
    budget: Politeness | None = None,
    hotline_id: str = "",
    retries: int = 0,
    enough_failures: int | None = None,
) -> list[Probe]:
    """``settings.count`` probes on a fixed schedule; at most ``limiter`` in flight overall.

    Once ``enough_failures`` probes failed on the site's side the rest are not sent: the census
    rule has its answer (unreachable whatever the others would say), and a failing site is not
    asked again and again (a hanging one would hold its host's slots for a timeout each).

    With ``budget`` each probe (each redirect hop) takes its host's politeness slot, so the
    schedule stretches when the host is busy; a probe the site throttled is booked to the host
    (which then backs off) and sent again later, up to ``retries`` times: a throttled probe is
    no evidence about the site (it is kept, error_kind rate_limited or waf_blocked, when
    every try was throttled)."""
    via_proxy = uses_proxy(url, proxy)
    paced = budget.for_component("probe") if budget is not None else None
    agent = user_agent(budget.settings.contact) if budget is not None else None
    async with make_client(proxy, settings.timeout_s, cookies, policy, paced, hotline_id, agent) as client:
        failures = 0

        async def scheduled(i: int) -> Probe | None:
            nonlocal failures
            await asyncio.sleep(i * settings.spacing_s)
            for _ in range(retries + 1):
                if enough_failures is not None and failures >= enough_failures:
                    return None
                if paced is not None and (last := paced.refusing(url) and paced.last_throttle(url)):
                    # The host keeps throttling us: this probe is not sent (and says why).
                    return Probe(started_at=utcnow(), elapsed_ms=0.0, ok=False, error_kind=last.kind,
                                 status=last.status, error=f"not sent: {THROTTLE_REASONS[last.kind][1]} "
                                 f"again and again (last: HTTP {last.status})")
                # The host's slot first: a probe waiting for it holds none of the round's.
                prepaid = await paced.acquire(url, hotline_id) if paced is not None else None
                if enough_failures is not None and failures >= enough_failures:
                    if prepaid is not None and paced is not None:
                        paced.release(prepaid)
                    return None
                async with limiter:
                    probe = await probe_once(client, url, settings, via_proxy, paced, prepaid)
                if probe.error_kind not in THROTTLE_REASONS or paced is None:
                    break
                paced.throttled(probe.final_url or url, probe.error_kind, probe.status, probe.retry_after_s,
                                hotline_id)
            if not probe.ok and probe.side == "site" and probe.error_kind not in THROTTLE_REASONS:
                failures += 1
            return probe

        done = await asyncio.gather(*(scheduled(i) for i in range(settings.count)))
        return [p for p in done if p is not None]


# -- TLS facts ------------------------------------------------------------------------------------


class _ProxyUnreachable(OSError):
    """Our proxy did not accept a connection: our side."""


class _ProxyRefused(OSError):
    """The proxy answered CONNECT with something other than 200."""


class _ConnectFailed(OSError):
    """No TCP connection to the site itself (direct, no proxy)."""


def tls_target(website: str, final_url: str | None = None) -> str:
    """The URL whose TLS to observe: the website, or where its http address sent the browser
    when that is https (a site that redirects to https is not served without TLS)."""
    if urlsplit(website).scheme != "https" and final_url and urlsplit(final_url).scheme == "https":
        return final_url
    return website


def _unverified_context() -> ssl.SSLContext:
    # Read whatever the server offers, old protocols included: facts, not a verdict.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with contextlib.suppress(ValueError, ssl.SSLError), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1 is deprecated: that is the point
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    return ctx


def _verifying_context(cafile: str | None) -> ssl.SSLContext:
    # Chain only: the host name is matched separately, so both facts are known.
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    return ctx


async def _open(host: str, port: int, proxy: str | None) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP stream to host:port, tunnelled with CONNECT when ``proxy`` is given."""
    if not proxy:
        try:
            return await asyncio.open_connection(host, port)
        except OSError as exc:
            kind = "dns" if isinstance(exc, socket.gaierror) else "connect"
            raise _ConnectFailed(kind, f"{host}:{port}: {exc}") from exc
    p = urlsplit(proxy)
    try:
        reader, writer = await asyncio.open_connection(p.hostname, p.port or 80)
    except OSError as exc:
        raise _ProxyUnreachable(f"cannot reach proxy {p.hostname}:{p.port}: {exc}") from exc
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    auth = ""
    if p.username:
        token = base64.b64encode(f"{unquote(p.username)}:{unquote(p.password or '')}".encode()).decode()
        auth = f"Proxy-Authorization: Basic {token}\r\n"
    writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{auth}\r\n".encode())
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError) as exc:
        writer.close()
        raise _ProxyRefused(f"proxy closed the CONNECT to {target}: {type(exc).__name__}") from exc
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    fields = status_line.split()
    if len(fields) < 2 or fields[1] != "200":
        writer.close()
        raise _ProxyRefused(f"proxy answered CONNECT {target} with {status_line[:100]!r}")
    return reader, writer


async def _handshake(host: str, port: int, proxy: str | None,
                     ctx: ssl.SSLContext) -> tuple[bytes | None, str | None, str | None]:
    """One TLS handshake; the leaf certificate's DER, the protocol and the cipher."""
    _, writer = await _open(host, port, proxy)
    try:
        sni = None if _is_ip(host) else host
        await writer.start_tls(ctx, server_hostname=sni)
        tls = writer.get_extra_info("ssl_object")
        cipher = tls.cipher()
        return tls.getpeercert(binary_form=True), tls.version(), cipher[0] if cipher else None
    finally:
        writer.transport.abort()  # no close_notify wait: a broken server must not hold us


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _failure(exc: BaseException, timeout_s: float) -> dict[str, object]:
    """What went wrong, as TlsFacts fields."""
    if isinstance(exc, TimeoutError):
        return {"error_kind": "timeout", "error": f"no TLS handshake within {timeout_s:g} s"}
    if isinstance(exc, _ProxyUnreachable):
        return {"error_kind": "proxy_unreachable", "error": str(exc)[:200], "side": "tool"}
    if isinstance(exc, _ProxyRefused):
        # as the probes do: a proxy's refusal is not held against the site
        return {"error_kind": "proxy_refused", "error": str(exc)[:200], "side": "tool"}
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "reason", None) or ""
        if "_ALERT_" in reason:
            return {"error_kind": "tls_alert", "alert": reason.split("_ALERT_", 1)[1].lower(),
                    "error": str(exc)[:200]}
        return {"error_kind": "tls_error", "error": str(exc)[:200] or type(exc).__name__}
    if isinstance(exc, _ConnectFailed):
        return {"error_kind": exc.args[0], "error": str(exc.args[1])[:200]}
    if isinstance(exc, OSError | EOFError):  # reset or closed mid-handshake
        return {"error_kind": "closed", "error": f"connection closed during the handshake ({type(exc).__name__}: {exc})"[:200]}
    return {"error_kind": "client", "error": f"{type(exc).__name__}: {exc}"[:200], "side": "tool"}


def _dns_names_match(host: str, names: list[str]) -> bool:
    """RFC 6125 as browsers apply it: exact, or one leftmost ``*`` label standing for one label."""
    host = host.rstrip(".").lower()
    for name in names:
        name = name.rstrip(".").lower()
        if name == host:
            return True
        if name.startswith("*.") and "." in host:
            first, rest = host.split(".", 1)
            if first and rest == name[2:] and "." in rest:
                return True
    return False


def hostname_matches(host: str, cert: x509.Certificate) -> bool:
    """Whether the certificate names ``host``; like browsers, only the SANs count (not the CN)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    if _is_ip(host):
        return ipaddress.ip_address(host) in san.get_values_for_type(x509.IPAddress)
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        pass
    return _dns_names_match(host, san.get_values_for_type(x509.DNSName))


def certificate_facts(der: bytes, host: str, at: datetime) -> dict[str, object]:
    """The leaf certificate's facts, as TlsFacts fields (``at``: the observation time)."""
    cert = x509.load_der_x509_certificate(der)

    def cn(name: x509.Name) -> str | None:
        attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(attrs[0].value) if attrs else None

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = [*san.get_values_for_type(x509.DNSName), *map(str, san.get_values_for_type(x509.IPAddress))]
    except x509.ExtensionNotFound:
        sans = []
    not_after = cert.not_valid_after_utc
    return {
        "subject_cn": cn(cert.subject), "subject": cert.subject.rfc4514_string(),
        "issuer_cn": cn(cert.issuer), "issuer": cert.issuer.rfc4514_string(), "sans": sans,
        "serial_number": format(cert.serial_number, "x"),
        "not_before": cert.not_valid_before_utc, "not_after": not_after,
        "sha256": cert.fingerprint(hashes.SHA256()).hex(),
        "days_to_expiry": math.floor((not_after - at).total_seconds() / 86400),
        "hostname_matches": hostname_matches(host, cert),
    }


async def observe_tls(url: str, proxy: str | None, timeout_s: float,
                      limiter: asyncio.Semaphore | None = None, cafile: str | None = None,
                      policy: TargetPolicy | None = None) -> TlsFacts:
    """One TLS observation of an https URL, connected the way the probes connect (through the
    proxy with CONNECT, loopback direct). The certificate is read with verification off, then
    a second handshake checks it against the system trust store (or ``cafile``)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "https":
        return TlsFacts(url=url, tls=False, host=host or None, port=parts.port)
    port = parts.port or 443
    via = uses_proxy(url, proxy)
    tunnel = proxy if via else None
    now = utcnow()
    facts: dict[str, object] = {"url": url, "tls": True, "host": host, "port": port, "via_proxy": via,
                                "observed_at": now}
    refusal = await asyncio.to_thread((policy or TargetPolicy()).refusal, url)
    if refusal is not None:  # never a handshake with the auditor's own network
        return TlsFacts.model_validate({**facts, "handshake_ok": False, "error_kind": "private_address",
                                        "error": f"refused: {refusal.reason_en}"[:200]})
    async with limiter or contextlib.nullcontext():
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s):
                der, protocol, cipher = await _handshake(host, port, tunnel, _unverified_context())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            facts.update(handshake_ok=False, elapsed_ms=round((time.perf_counter() - t0) * 1000, 1),
                         **_failure(exc, timeout_s))
            return TlsFacts.model_validate(facts)
        facts.update(handshake_ok=True, protocol=protocol, cipher=cipher,
                     elapsed_ms=round((time.perf_counter() - t0) * 1000, 1))
        if der:
            try:
                facts.update(certificate_facts(der, host, now))
            except Exception as exc:  # e.g. an SM2 (国密) certificate this library cannot read
                facts["error"] = f"certificate not parsed: {type(exc).__name__}: {exc}"[:200]
        try:
            async with asyncio.timeout(timeout_s):
                await _handshake(host, port, tunnel, _verifying_context(cafile))
            facts["verified"] = True
        except asyncio.CancelledError:
            raise
        except ssl.SSLCertVerificationError as exc:
            facts.update(verified=False, verify_error=exc.verify_message or str(exc)[:200])
        except Exception as exc:  # the verifying handshake failed for another reason: cannot tell
            failed = _failure(exc, timeout_s)
            facts["verify_error"] = f"verification handshake failed ({failed['error_kind']}): {failed['error']}"[:300]
    return TlsFacts.model_validate(facts)

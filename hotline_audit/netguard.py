"""The auditor's own network is off limits to the sites we audit.

A portal that redirects (by 302, script, iframe, form or link) to ``127.0.0.1``, a LAN address
or the cloud metadata address ``169.254.169.254`` would otherwise make our browser, probes or
crawler fetch the auditor's own services and archive them as that portal's evidence. Every
request a site can cause is checked against where its target *resolves*, before it leaves:

- ``TargetPolicy`` says whether a host is off limits (loopback, RFC 1918 / ULA private,
  link-local incl. metadata, CGNAT 100.64/10, unspecified, multicast, reserved), unless the
  ``network.allow_hosts`` setting names it (tests that serve pages on loopback do);
- ``GuardProxy`` is a small HTTP forward proxy on loopback that every browser context and the
  crawler's browser use: it refuses such targets (a 403 page of its own, never the target's
  bytes) and records each refusal for the tab that asked, then forwards the rest to the
  round's proxy (``--proxy``), or straight to the address it checked when there is none (so a
  name cannot resolve to a public address for the check and a private one for the fetch).

The round's proxy itself (simweb in tests, an egress proxy in real audits) is ours, not a
target: the rule is about the targets pages name, not about where our proxy runs.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

CGNAT = ipaddress.ip_network("100.64.0.0/10")
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
# Names that only mean something inside the auditor's own network.
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa")

# What a refusal says, per kind of address: for reports (Chinese) and logs (English).
REASONS: dict[str, tuple[str, str]] = {
    "loopback": ("本机回环地址", "a loopback address"),
    "private": ("内网地址", "a private (LAN) address"),
    "link_local": ("链路本地地址(含云主机元数据)", "a link-local address (incl. cloud metadata)"),
    "cgnat": ("运营商级NAT内部地址", "a carrier-grade NAT address"),
    "reserved": ("保留地址", "a reserved or unspecified address"),
    "local_name": ("本机/内网主机名", "a local host name"),
    "scheme": ("本地文件或浏览器内部地址", "a local file or browser-internal address"),
}

REFUSED_HEADER = "X-Hotline-Audit-Refused"
FAILED_HEADER = "X-Hotline-Audit-Error"
HEAD_LIMIT = 64 * 1024
RESOLVE_TIMEOUT_S = 5.0


def address_kind(ip: IPAddress) -> str | None:
    """Which kind of off-limits address ``ip`` is, or None for a public one."""
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return address_kind(mapped)
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link_local"
    if isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT:
        return "cgnat"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return "reserved"
    if ip.is_private:  # RFC 1918, ULA fc00::/7, and the other special ranges Python lists
        return "private"
    return None


def literal_address(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is one, in any spelling a resolver accepts
    (``127.1``, ``2130706433``, ``0x7f.0.0.1``, ``[::1]``), else None."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host) and host[0].isdigit():
        try:  # the BSD forms inet_aton (and so getaddrinfo) accepts
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


@dataclass(frozen=True)
class Refusal:
    """One request refused before it left: what it asked for and why."""

    target: str  # the URL, or host:port for a tunnel
    host: str
    address: str  # the off-limits address it named or resolved to ("" for a local name)
    kind: str  # a REASONS key
    at: float  # time.time()

    @property
    def reason_zh(self) -> str:
        where = f" {self.address}" if self.address and self.address != self.host else ""
        return f"指向{REASONS[self.kind][0]} {self.host}{where}"

    @property
    def reason_en(self) -> str:
        where = f" ({self.address})" if self.address and self.address != self.host else ""
        return f"points to {REASONS[self.kind][1]}: {self.host}{where}"


class TargetPolicy:
    """Whether a host may be fetched. ``allow`` names hosts, addresses or networks (CIDR) that
    may be fetched although local (tests on loopback; an intranet portal audited on purpose)."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self.allowed_names: set[str] = set()
        self.allowed_networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for item in allow:
            item = item.strip().lower().strip("[]")
            if not item:
                continue
            try:
                self.allowed_networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self.allowed_names.add(item.rstrip("."))

    def _allowed_address(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.allowed_networks)

    def name_problem(self, host: str) -> tuple[str, str] | None:
        """(kind, address) when the host *as written* is off limits; no resolving."""
        host = host.strip().lower().rstrip(".").strip("[]")
        if host in self.allowed_names:
            return None
        ip = literal_address(host)
        if ip is not None:
            kind = address_kind(ip)
            return (kind, str(ip)) if kind and not self._allowed_address(ip) else None
        if host in LOCAL_NAMES or host.endswith(LOCAL_SUFFIXES) or not host:
            return ("local_name", "")
        return None

    def allowed_name(self, host: str) -> bool:
        return host.strip().lower().rstrip(".").strip("[]") in self.allowed_names

    def addresses_problem(self, host: str, addresses: Iterable[IPAddress]) -> tuple[str, str] | None:
        """(kind, address) when any address a name resolved to is off limits: a name that
        resolves to both a public and a private address is refused (DNS rebinding)."""
        if self.allowed_name(host):
            return None
        for ip in addresses:
            kind = address_kind(ip)
            if kind and not self._allowed_address(ip):
                return kind, str(ip)
        return None

    def check_sync(self, host: str) -> tuple[str, str] | None:
        """``name_problem`` then, for a name, where this machine's resolver sends it. A name
        that does not resolve here is left to whoever fetches it (the round's proxy)."""
        problem = self.name_problem(host)
        if problem or literal_address(host) is not None or self.allowed_name(host):
            return problem
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return None
        return self.addresses_problem(host, _addresses(infos))

    def refusal(self, url: str) -> Refusal | None:
        """A Refusal when ``url`` may not be fetched (checked as ``check_sync``)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "ws", "wss"):
            return Refusal(url, parts.hostname or "", "", "scheme", time.time())
        host = parts.hostname or ""
        problem = self.check_sync(host)
        return Refusal(url, host, problem[1], problem[0], time.time()) if problem else None


def _addresses(infos: Iterable[tuple]) -> list[IPAddress]:
    out: list[IPAddress] = []
    for info in infos:
        with contextlib.suppress(ValueError):
            out.append(ipaddress.ip_address(str(info[4][0]).split("%")[0]))
    return out


@dataclass
class _Upstream:
    host: str
    port: int
    auth: str | None  # a Proxy-Authorization value


def _upstream(proxy: str | None) -> _Upstream | None:
    if not proxy:
        return None
    parts = urlsplit(proxy)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"proxy {proxy!r} must look like http://HOST:PORT")
    auth = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        auth = "Basic " + base64.b64encode(pair.encode()).decode()
    return _Upstream(parts.hostname, parts.port or 80, auth)


class _Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.reason_en)
        self.refusal = refusal


class _Unreachable(Exception):
    """Direct mode: the target itself did not answer (``kind``: dns, connect, timeout)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


class GuardProxy:
    """A loopback HTTP forward proxy that keeps sites out of the auditor's network.

    It runs on its own thread and event loop, so a page that floods the round's loop with
    events (or a crawler in another process) never stalls it. Each user asks for its own
    listener with ``listen(tag)``, so refusals and failures are booked to the tab (and so the
    hotline) that caused them."""

    def __init__(self, policy: TargetPolicy, upstream: str | None = None, connect_timeout_s: float = 15.0,
                 max_page_bytes: int = 2_000_000, max_response_bytes: int = 30_000_000) -> None:
        self.policy = policy
        # An HTML page past ``max_page_bytes``, any other response past ``max_response_bytes``
        # (a tunnel, which carries many unseen responses: 4x) is cut, so a 60 MB page cannot
        # take a renderer to gigabytes; the tab learns which URL was cut.
        self.max_page_bytes = max_page_bytes
        self.max_response_bytes = max_response_bytes
        self.upstream = _upstream(upstream)
        self.connect_timeout_s = connect_timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: dict[str, asyncio.base_events.Server] = {}
        self._refusals: dict[str, list[Refusal]] = defaultdict(list)
        # Direct mode only: targets that did not answer, so a tab can tell the site's failure
        # (no such name, refused connection) from its proxy's (ours).
        self._failures: dict[str, dict[str, str]] = defaultdict(dict)
        self._cut: dict[str, list[str]] = defaultdict(list)
        self._lock = threading.Lock()

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> GuardProxy:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="hotline-audit-guard", daemon=True)
        self._thread.start()
        ready.wait()
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._close_all(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        self._loop = self._thread = None

    def __enter__(self) -> GuardProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _close_all(self) -> None:
        for server in list(self._servers.values()):
            server.close()
        self._servers.clear()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        # Let them end (their connections close) before the loop stops: a task left pending
        # is reported as "destroyed" on the auditor's screen and log.
        await asyncio.wait(tasks, timeout=2) if tasks else None

    # -- listeners and their records ----------------------------------------------------

    def listen(self, tag: str) -> str:
        """The proxy address (``http://127.0.0.1:PORT``) for ``tag``; one listener per tag."""
        assert self._loop is not None, "GuardProxy not started"

        async def open_server() -> int:
            server = self._servers.get(tag)
            if server is None:
                server = await asyncio.start_server(
                    lambda r, w: self._serve(tag, r, w), "127.0.0.1", 0, limit=HEAD_LIMIT)
                self._servers[tag] = server
            return server.sockets[0].getsockname()[1]

        port = asyncio.run_coroutine_threadsafe(open_server(), self._loop).result(timeout=10)
        return f"http://127.0.0.1:{port}"

    def forget(self, tag: str) -> None:
        """Close ``tag``'s listener and drop its records."""
        if self._loop is not None:
            async def close() -> None:
                server = self._servers.pop(tag, None)
                if server is not None:
                    server.close()
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=5)
        self.reset(tag)

    def reset(self, tag: str) -> None:
        with self._lock:
            self._refusals.pop(tag, None)
            self._failures.pop(tag, None)
            self._cut.pop(tag, None)

    def cut(self, tag: str) -> list[str]:
        """URLs (``https://host:port/`` for a tunnel) whose response was cut at the size limit."""
        with self._lock:
            return list(self._cut.get(tag, ()))

    def refusals(self, tag: str) -> list[Refusal]:
        with self._lock:
            return list(self._refusals.get(tag, ()))

    def failure(self, tag: str, host: str) -> str | None:
        """Direct mode: why ``host`` could not be reached for ``tag`` (dns, connect, timeout),
        or ``proxy`` when the round's proxy did not answer; None when nothing failed."""
        with self._lock:
            return self._failures.get(tag, {}).get(host.lower())

    def _refuse(self, tag: str, refusal: Refusal) -> None:
        with self._lock:
            self._refusals[tag].append(refusal)

    def _fail(self, tag: str, host: str, kind: str) -> None:
        with self._lock:
            self._failures[tag][host.lower()] = kind

    # -- one client connection: one request, or one tunnel -------------------------------

    async def _serve(self, tag: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
            method, target, lines = _parse_head(head)
            tunnel = method == "CONNECT"
            host, port, url = _target(method, target)
            try:
                up_reader, upstream = await self._open(tag, host, port, url)
            except _Refused as refused:
                self._refuse(tag, refused.refusal)
                await _answer(writer, 403, "Forbidden", {REFUSED_HEADER: refused.refusal.kind},
                              f"hotline-audit: refused {refused.refusal.reason_en}")
                return
            except _Unreachable as failed:
                self._fail(tag, host, failed.kind)
                await _answer(writer, 502, "Bad Gateway", {FAILED_HEADER: failed.kind}, f"hotline-audit: {failed}")
                return
            if tunnel and self.upstream is None:
                writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            else:
                upstream.write(self._forward_head(method, target, url, lines, tunnel))
            if tunnel:  # an upstream proxy answers the CONNECT itself
                complete = await _relay(reader, writer, up_reader, upstream, self.max_response_bytes * 4)
            else:
                await _copy_body(reader, upstream, lines)
                complete = await _relay_response(up_reader, writer, self.max_page_bytes, self.max_response_bytes)
            if not complete:
                with self._lock:
                    self._cut[tag].append(url)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            with contextlib.suppress(Exception):
                await _answer(writer, 400, "Bad Request", {}, "hotline-audit: not a proxy request")
        except (ConnectionError, OSError):
            pass
        finally:
            for w in (writer, upstream):
                if w is not None:
                    w.close()

    async def _open(self, tag: str, host: str, port: int,
                    url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        problem = self.policy.name_problem(host)
        if problem:
            raise _Refused(Refusal(url, host, problem[1], problem[0], time.time()))
        literal = literal_address(host)
        addresses: list[IPAddress] = [literal] if literal is not None else []
        if literal is None and not self.policy.allowed_name(host):
            addresses = await self._resolve(host)
            problem = self.policy.addresses_problem(host, addresses)
            if problem:
                raise _Refused(Refusal(url, host, problem[1], problem[0], time.time()))
        if self.upstream is not None:
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(self.upstream.host, self.upstream.port, limit=HEAD_LIMIT),
                    self.connect_timeout_s)
            except (TimeoutError, OSError) as exc:
                raise _Unreachable("proxy", f"the round's proxy did not answer: {exc}") from None
        if not addresses:
            if self.policy.allowed_name(host):
                addresses = await self._resolve(host)
            if not addresses:
                raise _Unreachable("dns", f"{host} does not resolve")
        last: Exception | None = None
        for ip in addresses:  # connect to the address we checked, never a second lookup
            try:
                return await asyncio.wait_for(asyncio.open_connection(str(ip), port, limit=HEAD_LIMIT),
                                              self.connect_timeout_s)
            except TimeoutError as exc:
                last = exc
            except OSError as exc:
                last = exc
        if isinstance(last, asyncio.TimeoutError):
            raise _Unreachable("timeout", f"{host}:{port} did not accept a connection in time")
        raise _Unreachable("connect", f"{host}:{port} refused the connection: {last}")

    async def _resolve(self, host: str) -> list[IPAddress]:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, None, proto=socket.IPPROTO_TCP), RESOLVE_TIMEOUT_S)
        except (TimeoutError, OSError, UnicodeError):
            return []
        return list(dict.fromkeys(_addresses(infos)))

    def _forward_head(self, method: str, target: str, url: str, lines: list[str], tunnel: bool) -> bytes:
        """The request as the next hop should see it: one request per connection (so every
        request on it is checked), proxy credentials ours, origin-form when going direct."""
        kept = [line for line in lines if line.split(":", 1)[0].strip().lower() not in HOP_HEADERS]
        if self.upstream is not None:
            first = f"{method} {target} HTTP/1.1"
            if self.upstream.auth:
                kept.append(f"Proxy-Authorization: {self.upstream.auth}")
        else:
            parts = urlsplit(url)
            first = f"{method} {(parts.path or '/') + ('?' + parts.query if parts.query else '')} HTTP/1.1"
        if not tunnel:
            kept.append("Connection: close")
        return ("\r\n".join([first, *kept]) + "\r\n\r\n").encode("latin-1")


HOP_HEADERS = {"connection", "proxy-connection", "keep-alive", "proxy-authorization", "te", "upgrade"}


def _parse_head(head: bytes) -> tuple[str, str, list[str]]:
    text = head.decode("latin-1").rstrip("\r\n")
    first, *lines = text.split("\r\n")
    method, target, version = first.split(" ", 2)
    if not version.startswith("HTTP/"):
        raise ValueError("not HTTP")
    return method.upper(), target, lines


def _target(method: str, target: str) -> tuple[str, int, str]:
    """(host, port, url) of a proxy request: ``CONNECT host:port`` or an absolute URL."""
    if method == "CONNECT":
        host, _, port = target.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"bad CONNECT target {target!r}")
        return host.strip("[]").lower(), int(port), f"https://{target}/"
    parts = urlsplit(target)
    if parts.scheme not in ("http", "ws") or not parts.hostname:
        raise ValueError(f"not an absolute http URL: {target[:100]!r}")
    return parts.hostname.lower(), parts.port or 80, target


async def _answer(writer: asyncio.StreamWriter, status: int, phrase: str, headers: dict[str, str], text: str) -> None:
    body = f"<!doctype html><meta charset=utf-8><title>{status}</title><p>{text}</p>".encode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/html; charset=utf-8\r\n"
                 f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n".encode() + body)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.drain(), 5)


async def _pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, limit: int | None = None) -> bool:
    """Copy until the end (True) or until more than ``limit`` bytes passed (False)."""
    sent = 0
    try:
        while data := await src.read(65536):
            sent += len(data)
            if limit is not None and sent > limit:
                return False
            dst.write(data)
            await dst.drain()
        return True
    finally:
        with contextlib.suppress(Exception):
            if dst.can_write_eof():
                dst.write_eof()


async def _relay(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter,
                 up_r: asyncio.StreamReader, up_w: asyncio.StreamWriter, limit: int) -> bool:
    """Bytes both ways until both sides are done (a tunnel); False when the answer was cut."""
    send = asyncio.ensure_future(_pump(client_r, up_w))
    answer = asyncio.ensure_future(_pump(up_r, client_w, limit))
    try:
        # One direction ending is normal (a half-close); the answer's end, an error or the
        # limit ends the tunnel.
        await asyncio.wait([answer], return_when=asyncio.ALL_COMPLETED)
        return answer.exception() is not None or answer.result()
    finally:
        for task in (send, answer):
            task.cancel()
        for task in (send, answer):
            with contextlib.suppress(BaseException):
                await task


async def _copy_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, lines: list[str]) -> None:
    """The request body, exactly (Content-Length or chunked), and nothing after it."""
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size_line = await reader.readuntil(b"\r\n")
            writer.write(size_line)
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
                    writer.write(trailer)
                writer.write(b"\r\n")
                break
            writer.write(await reader.readexactly(size + 2))
            await writer.drain()
    elif (length := int(headers.get("content-length", "0") or 0)) > 0:
        while length > 0:
            chunk = await reader.read(min(length, 65536))
            if not chunk:
                raise asyncio.IncompleteReadError(b"", length)
            writer.write(chunk)
            length -= len(chunk)
            await writer.drain()
    await writer.drain()


async def _relay_response(up_r: asyncio.StreamReader, client_w: asyncio.StreamWriter, page_limit: int,
                          limit: int) -> bool:
    """The response, with ``Connection: close`` so the client opens a new connection (and so
    passes the check again) for its next request; False when it was cut at its limit
    (``page_limit`` for HTML, ``limit`` for anything else).

    An HTML page that may pass its limit is sent delimited by the connection's close (its
    ``Content-Length`` dropped, a chunked body unchunked here), so a cut page *ends* where it
    is cut: Chromium renders what came and fires its load event, instead of keeping a page
    whose transfer broke "loading" for 20 s or more (measured)."""
    while True:
        head = await up_r.readuntil(b"\r\n\r\n")
        first, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        informational = first.split(" ", 2)[1:2] in (["100"], ["102"], ["103"])
        content_type = headers.get("content-type", "").lower()
        html = not informational and ("html" in content_type or "xml" in content_type)
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length", "")
        reframe = html and (chunked or (length.isdigit() and int(length) > page_limit))
        dropped = {"connection", "proxy-connection", "keep-alive"} | (
            {"content-length", "transfer-encoding"} if reframe else set())
        kept = [line for line in lines if line.split(":", 1)[0].strip().lower() not in dropped]
        client_w.write(("\r\n".join([first, *kept, *([] if informational else ["Connection: close"])])
                        + "\r\n\r\n").encode("latin-1"))
        if not informational:
            break
    if reframe and chunked:
        return await _pump_unchunked(up_r, client_w, page_limit)
    return await _pump(up_r, client_w, page_limit if html else limit)


async def _pump_unchunked(src: asyncio.StreamReader, dst: asyncio.StreamWriter, limit: int) -> bool:
    """A chunked body's data, unchunked, until its end (True) or ``limit`` bytes (False)."""
    sent = 0
    while True:
        size = int((await src.readuntil(b"\r\n")).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return True
        data = await src.readexactly(size)
        await src.readexactly(2)
        room = limit - sent
        dst.write(data[:room])
        await dst.drain()
        sent += len(data)
        if sent > limit:
            return False

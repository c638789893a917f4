"""TLS certificate facts (issue 8): a local TLS server with trustme certificates, simweb's
``tls_error`` portal through the proxy, and an http-only site. Only 127.0.0.0/8 is contacted."""

import asyncio
import hashlib
import io
import json
import ssl
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
import trustme

from fixtures.simweb import build_population
from hotline_audit.model import StabilityObservation, TlsFacts
from hotline_audit.netguard import TargetPolicy
from journeys.probes import observe_tls, tls_target

from . import local_site
from .conftest import COUNT, SEED

# These servers run on loopback, which an audited site may not reach unless allowed.
LOCAL = TargetPolicy(local_site.LOOPBACK.allow_hosts)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA(organization_name="hotline-audit test CA")


def served(cert: trustme.LeafCert, url_host: str = "127.0.0.1", **kw) -> TlsFacts:
    """Serve ``cert`` on 127.0.0.1 for one observation of https://url_host:PORT/."""
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def run() -> TlsFacts:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await observe_tls(f"https://{url_host}:{port}/", kw.pop("proxy", None), 5.0,
                                     policy=LOCAL, **kw)

    return asyncio.run(run())


def test_untrusted_certificate_is_read_and_reported_unverified(ca):
    cert = ca.issue_cert("127.0.0.1", "localhost", common_name="localhost")
    facts = served(cert)
    assert facts.tls and facts.handshake_ok and not facts.via_proxy
    assert facts.protocol in ("TLSv1.2", "TLSv1.3") and facts.cipher
    assert facts.subject_cn == "localhost"
    assert "hotline-audit test CA" in facts.issuer
    assert set(facts.sans) == {"localhost", "127.0.0.1"}
    assert facts.hostname_matches is True
    assert facts.verified is False and "issuer" in facts.verify_error  # not in the system store
    der = ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())
    assert facts.sha256 == hashlib.sha256(der).hexdigest()
    assert facts.not_before.tzinfo is not None and facts.not_after > facts.observed_at
    assert facts.days_to_expiry > 300


def test_trusted_certificate_verifies(ca, tmp_path):
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    facts = served(ca.issue_cert("localhost"), "localhost", cafile=str(tmp_path / "ca.pem"))
    assert facts.verified is True and facts.verify_error is None and facts.hostname_matches is True


def test_expired_certificate(ca, tmp_path):
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    now = datetime.now(UTC)
    cert = ca.issue_cert("127.0.0.1", not_before=now - timedelta(days=400), not_after=now - timedelta(days=10))
    facts = served(cert, cafile=str(tmp_path / "ca.pem"))
    assert facts.handshake_ok and facts.verified is False
    assert "expired" in facts.verify_error
    assert facts.days_to_expiry in (-10, -11)


def test_wrong_host_certificate(ca, tmp_path):
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    facts = served(ca.issue_cert("*.other.test"), cafile=str(tmp_path / "ca.pem"))
    assert facts.verified is True  # the chain is fine ...
    assert facts.hostname_matches is False  # ... but it does not name 127.0.0.1
    assert facts.sans == ["*.other.test"]


def test_loopback_is_direct_even_with_a_proxy(ca):
    facts = served(ca.issue_cert("127.0.0.1"), proxy="http://127.0.0.1:9")  # nothing listens on 9
    assert facts.handshake_ok and not facts.via_proxy


def test_nothing_listening_is_a_connect_failure():
    facts = asyncio.run(observe_tls("https://127.0.0.1:9/", None, 5.0, policy=LOCAL))
    assert facts.handshake_ok is False and facts.error_kind == "connect" and facts.side == "site"


def test_no_handshake_with_the_auditors_own_network():
    """A site whose https address is loopback, private or the metadata address is refused
    before any connection (the default policy allows none of them)."""
    for url in ("https://127.0.0.1:9/", "https://10.1.2.3/", "https://169.254.169.254/", "https://[::1]:9/"):
        facts = asyncio.run(observe_tls(url, None, 5.0))
        assert facts.handshake_ok is False and facts.error_kind == "private_address" and facts.side == "site", url


def test_unreachable_proxy_is_our_side():
    facts = asyncio.run(observe_tls("https://www.example.gov.cn.test/", "http://127.0.0.1:9", 5.0))
    assert facts.via_proxy and facts.error_kind == "proxy_unreachable" and facts.side == "tool"


def test_hung_server_times_out():
    async def run() -> TlsFacts:
        async def handle(reader, writer):
            await asyncio.sleep(5)  # accepts, never answers the ClientHello

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await observe_tls(f"https://127.0.0.1:{port}/", None, 0.5, policy=LOCAL)

    facts = asyncio.run(run())
    assert facts.handshake_ok is False and facts.error_kind == "timeout"


def portal(trait: str):
    return next(p for p in build_population(SEED, COUNT) if p.trait == trait and p.website)


def test_simweb_tls_error_portal_fails_the_handshake_through_the_proxy(simweb):
    p = portal("tls_error")
    assert p.website.startswith("https://")
    facts = asyncio.run(observe_tls(p.website, simweb, 10.0))
    assert facts.via_proxy and facts.handshake_ok is False
    assert facts.error_kind == "tls_alert" and facts.alert == "handshake_failure"
    assert facts.side == "site" and facts.sha256 is None and facts.verified is None


def test_http_site_is_served_without_tls(simweb):
    p = portal("healthy")
    facts = asyncio.run(observe_tls(p.website, simweb, 10.0))
    assert facts.tls is False and facts.handshake_ok is None and facts.host == p.host


def test_an_http_site_that_redirects_to_https_is_observed_on_https():
    assert tls_target("http://a.test/", "https://a.test/home") == "https://a.test/home"
    assert tls_target("http://a.test/", "http://a.test/home") == "http://a.test/"
    assert tls_target("https://a.test/", None) == "https://a.test/"


def test_old_stored_observations_still_load():
    old = {"hotline_id": "x", "website": "http://a.test/", "observed_at": "2025-01-01T00:00:00Z",
           "proxy": None, "probes": [], "page_load": None, "tool_error": None}
    assert StabilityObservation.model_validate(old).tls is None


# -- through a whole round (Chromium) -----------------------------------------------------------


@pytest.mark.browser
@pytest.mark.xdist_group("stability_round")
def test_round_stores_tls_facts_and_the_pack_shows_them(stability_round, tmp_path):
    from reports.evidence import write_pack
    from reports.rubric import load_rubric
    from reports.scoring import score_round

    obs = stability_round.data.observations
    bad, good = portal("tls_error"), portal("healthy")
    tls_bad = obs[(bad.hotline_id, "stability")]["tls"]
    assert tls_bad["alert"] == "handshake_failure" and tls_bad["via_proxy"]
    assert obs[(good.hotline_id, "stability")]["tls"]["tls"] is False

    scores = score_round(stability_round.data, load_rubric())
    out = write_pack(stability_round.data, stability_round.round_dir, bad.hotline_id, scores, tmp_path / "p.zip")
    with zipfile.ZipFile(out) as z:
        manifest = json.loads(z.read("manifest.json"))
        index = z.read("index.html").decode()
    cert = manifest["tls_certificate"]
    assert cert["observed"] and cert["handshake_ok"] is False and cert["alert"] == "handshake_failure"
    assert "TLS" in index and "handshake_failure" in index and "握手" in index


def test_pack_without_a_stability_observation_says_not_observed(tmp_path):
    from fixtures.gold_round import gold_round
    from reports.evidence import build_pack
    from reports.rubric import load_rubric
    from reports.scoring import score_round

    data = gold_round(SEED, COUNT)  # verdicts only, no observations
    hid = portal("healthy").hotline_id
    with zipfile.ZipFile(io.BytesIO(build_pack(data, tmp_path, hid, score_round(data, load_rubric())))) as z:
        manifest = json.loads(z.read("manifest.json"))
        index = z.read("index.html").decode()
    assert manifest["tls_certificate"]["observed"] is False
    assert "TLS 证书信息 TLS certificate：本轮未采集稳定性观测 no stability observation" in index

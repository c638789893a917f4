"""Settings for a round: one pydantic model, read from defaults, an optional YAML file and
``HOTLINE_AUDIT_*`` environment variables (in that order of precedence, lowest first)."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .politeness import PolitenessSettings

DEFAULT_CHROMIUM = "/usr/bin/chromium"

# Chromium's own background requests (update checks, Google-account look-ups, autofill and
# optimisation-guide downloads ...). An audit's browser talks to audited sites only: measured on
# Debian's Chromium 156 (tests/test_foreign_traffic.py), what each of these stops is noted.
#
# One --disable-features only: Chromium keeps the last one and drops the others, including the
# list Playwright passes before ours, so Playwright's list is repeated here
# (tests/test_browser_switches.py fails when Playwright disables something this list lacks).
PLAYWRIGHT_DISABLED_FEATURES = [
    "AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose", "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable", "LensOverlay", "MediaRouter", "PaintHolding",
    "ThirdPartyStoragePartitioning", "AvoidCorsURLLoaderRestartOnRedirect", "TcpPortRandomizationWin",
    "OptimizationHints", "NetworkTimeServiceQuerying", "AimEnabled", "PreconnectToSearch",
    "msForceBrowserSignIn", "msEdgeUpdateLaunchServicesPreferredVersion",  # Edge's
]
QUIET_FEATURES = [
    "AutofillServerCommunication",  # form fields sent to content-autofill.googleapis.com
    "OptimizationHintsFetching", "OptimizationGuideModelDownloading", "OptimizationGuideOnDeviceModel",
    "Translate",  # also in Playwright's list; a translation offer fetches its script
    "CertificateTransparencyComponentUpdater", "DialMediaRouteProvider",
    "InterestFeedContentSuggestions",
]
# A request to port 0 fails inside Chromium before any socket is opened (or name resolved: the
# host is an address). Used for the two Google services no switch or feature turns off:
# - the component updater's on-demand check for the optimisation guide's model manifest
#   (POST update.googleapis.com/service/update2/json at launch and a minute later, despite
#   --disable-component-update, which stops only the scheduled checks);
# - the Google-account list of the default profile (accounts.google.com/ListAccounts, retried
#   for minutes), sent once its network is up whatever sign-in is set to.
NOWHERE = "http://127.0.0.1:0/"
# Playwright's own switches that make its Chromium unlike a citizen's: it turns the popup
# blocker off, so a page that opens windows by itself (no click) would open them all.
PLAYWRIGHT_ARGS_WE_DROP = ["--disable-popup-blocking"]

CHROMIUM_ARGS = [
    "--no-sandbox",  # a container without user namespaces
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--no-pings",  # <a ping> beacons
    "--metrics-recording-only",
    f"--component-updater=url-source={NOWHERE}",
    f"--gaia-url={NOWHERE}",
    # Every request goes to the proxy when there is one, loopback included (Chromium's default
    # sends localhost directly), and WebRTC may not send UDP around it.
    "--proxy-bypass-list=<-loopback>",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--disable-features=" + ",".join(dict.fromkeys(PLAYWRIGHT_DISABLED_FEATURES + QUIET_FEATURES)),
]


class ProbeSettings(BaseModel):
    """Repeated HTTP probes, after the government-site census (国办秘函〔2019〕19号)."""

    count: int = Field(20, ge=1, description="probes per website in one round")
    spacing_s: float = Field(0.5, ge=0, description="seconds between probe start times")
    timeout_s: float = Field(15.0, gt=0, description="a probe slower than this has failed")
    max_body_bytes: int = Field(2_000_000, gt=0, description="stop reading a body past this")
    concurrency: int = Field(64, ge=1, description="probes in flight across all hotlines")


class BrowserSettings(BaseModel):
    executable: str = DEFAULT_CHROMIUM
    # 3 on 2 cores: the findability and effectiveness rounds wait on sites more than they use
    # the CPU (bench, 344 portals: findability 416 s with 2, 280 s with 3).
    contexts: int = Field(3, ge=1, description="parallel browser contexts (1-2 per core)")
    navigation_timeout_s: float = Field(15.0, gt=0)
    settle_s: float = Field(3.0, ge=0, description="extra wait for scripts (JS challenges, SPAs)")
    viewport_width: int = 1280
    viewport_height: int = 800
    screenshot_max_height: int = Field(4000, description="crop very long pages")
    screenshot_format: Literal["jpeg", "png"] = Field(
        "jpeg", description="jpeg: under half png's encoding time in Chromium; text stays legible"
    )
    screenshot_quality: int = Field(80, ge=30, le=100, description="JPEG quality of screenshots")
    extra_args: list[str] = Field(
        default_factory=list, description="more Chromium switches, after the project's own"
    )
    reuse_renderers: bool = Field(
        True,
        description="a tab keeps one renderer process from site to site instead of a new one per "
        "site (~10% less CPU in a round); tabs never share one, each is its own browser context",
    )
    small_windows: bool = Field(
        True,
        description="shrink each tab's invisible headless window to 100x100: Chromium redraws it "
        "while a page loads; pages still see the full viewport and are captured whole",
    )


class NetworkSettings(BaseModel):
    """What audited sites may make our browser, probes and crawler fetch (hotline_audit/netguard.py)."""

    allow_hosts: list[str] = Field(
        default_factory=list,
        description="hosts, addresses or networks (CIDR) that may be fetched although they are "
        "loopback, private (RFC 1918), link-local (169.254/16, cloud metadata) or CGNAT; empty: "
        "none. Requests to the round's own proxy are never affected",
    )
    max_page_mb: float = Field(
        2.0, gt=0, description="an HTML page larger than this (bytes as sent) is cut there: it is "
        "recorded as oversize and only its beginning is rendered, which keeps a round's memory "
        "and time bounded (a 10 MB list page took a renderer 60 s to load). Real homepages are "
        "well under 1 MB",
    )
    max_response_mb: float = Field(
        30.0, gt=0, description="any other response larger than this is cut; an https connection, "
        "whose responses the guard cannot see one by one, at 4x this",
    )


class DiscoverySettings(BaseModel):
    """Politeness and reach of the discovery crawl."""

    page_budget: int = Field(60, ge=1, description="pages per hotline at most")
    depth: int = Field(1, ge=0, description="links followed from the entry page")


class StabilityRules(BaseModel):
    """Thresholds the stability check judges by; printed beside each verdict."""

    down_failure_share: float = Field(
        0.05, description="census rule: unreachable when at least this share of probes fail"
    )
    slow_median_ms: float = Field(3000, description="median probe time at or above: slow")
    slow_load_ms: float = Field(10000, description="browser load event at or above: slow")
    stale_days: int = Field(14, description="newest dated item older than this: not updated")
    garbled_share: float = Field(0.01, description="share of U+FFFD in page text: mojibake")


class FindabilityRules(BaseModel):
    """How search observations become 无处查 / 查不准 / ok (shown beside each verdict)."""

    questions_per_hotline: int = Field(5, ge=1, description="questions asked per hotline (K)")
    top_results: int = Field(10, ge=1, description="results judged per question")
    max_clicks: int = Field(3, ge=0, description="a lookup deeper than this from the homepage is not findable")
    inaccurate_share: float = Field(
        0.5, description="查不准 when at least this share of questions get no relevant result"
    )
    stale_years: int = Field(3, ge=1, description="a result dated older than this is out of date")
    query_timeout_s: float = Field(
        15.0, gt=0, description="a search slower than this has timed out (the census's 15 s page timeout)"
    )


class EffectivenessSettings(BaseModel):
    """The citizen journey (服务有效性): who submits, how codes arrive, how long replies may take."""

    persona_file: Path | None = Field(
        None, description="YAML with the real persona (name, phone, email, id_number); kept "
        "outside the repo. Without it a fake, obviously-test persona is used (simweb only)")
    reply_workdays: dict[str, int] = Field(
        default_factory=lambda: {"咨询": 5, "投诉": 10, "求助": 10, "建议": 10},
        description="working days a hotline has to reply, per case type; an unknown type gets "
        "the longest of these (waiting longer never accuses falsely)")
    holidays: list[date] = Field(
        default_factory=list, description="days off (放假) chinese-calendar does not know yet, from "
        "the State Council's notice, e.g. [2027-01-01]; they take precedence over it")
    makeup_workdays: list[date] = Field(
        default_factory=list, description="weekend days that are worked (调休上班) chinese-calendar "
        "does not know yet; they take precedence over it")
    sms_inbox_url: str | None = Field(
        None, description="GET URL of an SMS inbox returning JSON messages, with {phone}; "
        "{proxy} stands for the round's proxy (simweb: {proxy}/_sms?phone={phone}); without it "
        "an operator types the code")
    sms_wait_s: float = Field(120.0, gt=0, description="how long to wait for an SMS code")
    captcha_mode: Literal["ocr", "operator", "auto"] = Field(
        "auto", description="auto: OCR first, then an operator when the terminal is interactive")
    operator_timeout_s: float = Field(300.0, gt=0, description="how long to wait for a person")
    allow_submit: bool = Field(
        False, description="really press submit on hotline sites (off: stop before submitting)")


class EvidenceSettings(BaseModel):
    """What a browser journey records besides screenshots (issue 8), each switchable; the cost
    per borrowed tab is measured by bench/capture.py. A trace snapshots the page at every
    action, which doubles the time of action-heavy journeys (findability), so by default only
    the citizen journey, where disputes are likeliest, keeps one."""

    wacz: bool = Field(True, description="a WACZ web archive of the pages (opens in ReplayWeb.page)")
    har: bool = Field(True, description="a HAR network log, cookies and persona values removed")
    trace: Literal["none", "effectiveness", "all"] = Field(
        "effectiveness", description="which journeys keep a Playwright trace (true/false: all/none)")
    max_body_bytes: int = Field(2_000_000, ge=0, description="a response body larger than this is not kept")
    max_total_bytes: int = Field(30_000_000, ge=0, description="bodies kept per borrowed tab at most")

    @field_validator("trace", mode="before")
    @classmethod
    def _trace_bool(cls, v: object) -> object:
        if isinstance(v, bool) or str(v).lower() in ("true", "false"):
            return "all" if str(v).lower() == "true" else "none"
        return v

    def traces(self, check: str | None) -> bool:
        """Whether a journey of ``check`` (None: none named) keeps a trace."""
        return self.trace == "all" or (check is not None and self.trace == check)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_AUDIT_", env_nested_delimiter="__")

    db: str = Field("sqlite:///hotline-audit.db", description="SQLAlchemy URL of the store")
    out: Path = Path("runs")
    proxy: str | None = None
    hotlines_in_flight: int = Field(48, ge=1, description="hotlines audited at the same time")
    hotline_budget_s: float = Field(
        1800.0, gt=0, description="wall time one hotline's checks may take in all; a check still "
        "running then is stopped and marked needs_review (what it saw is kept), so no page can "
        "hold up a round",
    )
    network: NetworkSettings = NetworkSettings()
    politeness: PolitenessSettings = PolitenessSettings()
    probe: ProbeSettings = ProbeSettings()
    browser: BrowserSettings = BrowserSettings()
    discovery: DiscoverySettings = DiscoverySettings()
    stability: StabilityRules = StabilityRules()
    findability: FindabilityRules = FindabilityRules()
    effectiveness: EffectivenessSettings = EffectivenessSettings()
    evidence: EvidenceSettings = EvidenceSettings()

    def fingerprint(self) -> str:
        """SHA-256 of the settings that change what a round measures (not where it writes)."""
        payload = self.model_dump(mode="json", exclude={"db", "out"})
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def load_settings(config_file: Path | None = None, **overrides: object) -> Settings:
    """Defaults < YAML file < environment < explicit overrides (command-line options)."""
    data: dict = {}
    if config_file is not None:
        data = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{config_file}: expected a mapping of settings")
    env = Settings()  # reads HOTLINE_AUDIT_* only
    merged = _deep_merge(data, env.model_dump(exclude_unset=True))
    merged = _deep_merge(merged, {k: v for k, v in overrides.items() if v is not None})
    return Settings.model_validate(merged)


def _deep_merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out

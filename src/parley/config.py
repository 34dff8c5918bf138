"""Settings, read from ``PARLEY_*`` environment variables (and an optional ``.env``).

Every default works for a single developer machine: in-memory broker, SQLite under ``./data``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from parley.gc_policy import GcPolicy, parse_gc_policy
from parley.origin import parse_allowed
from parley.pool import check_language
from parley.transparency.territory import territorial_scope


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PARLEY_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Service
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "text"] = "auto"  # auto: text on a terminal, else json
    data_dir: Path = Path("data")
    broker_url: str = "memory://"
    database_url: str = ""  # empty: sqlite file in data_dir
    secret: str = ""  # empty: generated once and kept in data_dir/secret.key
    # Garbage-collector policy of `parley serve` (parley.gc_policy): default, freeze, tuned or
    # "T0,T1,T2"; the default was chosen with bench.gc_policy (docs/design.md, "Garbage collector").
    gc: str = "tuned"

    # Age assurance (docs/age-assurance.md)
    age_assurance: Literal["declared", "attested"] = "declared"
    attestation_issuer: str = ""
    attestation_keys: Path | None = None  # PEM or JWKS file with the issuer's public keys
    attestation_audience: str = ""
    attestation_max_age: float = Field(300.0, gt=0)
    # 13-17 year olds. Closed by default under `declared`: a typed age is not age assurance, and
    # an adult who types "15" would be among them. Open by default under `attested`, where each
    # band is proven (docs/age-assurance.md).
    minor_pool_open: bool = False
    minor_modes: str = "text"
    adult_modes: str = "text,video"
    video_requires_attestation: bool = False

    # Matching
    interest_fallback: float = Field(8.0, ge=0.0, le=3600.0)
    # A person who chose "any language" meets their own language first and, after this many
    # seconds of waiting (counted from the start, and never before the interest wait is over),
    # anyone of their band and mode who chose it too.
    language_wait: float = Field(10.0, ge=0.0, le=3600.0)
    # Seconds of waiting before the page suggests changes (drop interests, any language, text).
    wait_hints: float = Field(20.0, ge=0.0, le=3600.0)
    min_age: int = 13
    # An under-age refusal is remembered this long for the device, and for new devices on its
    # address this long (0: not by address): docs/safety.md, "Ages".
    age_refusal_seconds: float = Field(30 * 86400.0, ge=0)
    age_refusal_ip_seconds: float = Field(6 * 3600.0, ge=0)
    adult_age: int = 18
    languages: str = "en,id"  # accepted pool languages; anything else falls back to "en"

    # Liveness
    hello_timeout: float = Field(10.0, gt=0)
    heartbeat_interval: float = Field(10.0, gt=0)
    heartbeat_timeout: float = Field(30.0, gt=0)

    # Input bounds
    max_frame_bytes: int = Field(16 * 1024, ge=256)
    ws_max_size: int = Field(64 * 1024, ge=1024)  # transport hard cap, closes 1009
    max_message_chars: int = Field(1000, ge=1)
    max_interests: int = Field(10, ge=0)
    max_interest_chars: int = Field(32, ge=1)
    outbound_queue: int = Field(256, ge=8)

    # Token buckets per session: sustained rate per second, burst size
    frame_rate: float = 30.0
    frame_burst: float = 80.0  # above signal_burst, so trickle ICE meets its own limit first
    message_rate: float = 3.0
    message_burst: float = 8.0
    typing_rate: float = 4.0
    typing_burst: float = 8.0
    next_rate: float = 0.5
    next_burst: float = 6.0
    signal_rate: float = 20.0  # trickle ICE sends bursts of candidates
    signal_burst: float = 60.0

    # WebRTC. No STUN server by default: nothing phones home unless the operator says so.
    stun_urls: str = ""  # comma-separated, e.g. "stun:stun.example.org:3478"
    turn_urls: str = ""  # e.g. "turn:turn.example.org:3478?transport=udp,turns:…:5349"
    turn_secret: str = ""  # coturn static-auth-secret; never sent to clients
    turn_ttl: int = Field(3600, ge=60, le=7 * 86400)
    # "relay" hides peers' IP addresses from each other. Unset: "relay" when TURN is configured,
    # else "all" (see _turn_is_complete); an explicit value wins.
    ice_transport_policy: Literal["all", "relay"] = "all"

    # Escalation: this many errors within strike_window closes the socket
    max_protocol_strikes: int = 20
    max_rate_strikes: int = 10
    strike_window: float = 60.0

    # Reports, evidence and automatic sanctions
    report_rate: float = 0.2
    report_burst: float = 3.0
    # Per address as well (any number of device tokens): what one network may file.
    report_address_rate: float = Field(0.2, gt=0)
    report_address_burst: float = Field(60.0, ge=1)
    evidence_lines: int = Field(50, ge=1, le=500)  # ring buffer per live pair, both sides
    report_grace: float = Field(120.0, ge=0)  # a pair that just ended can still be reported
    mass_report_threshold: int = Field(3, ge=1)  # trusted reports from distinct addresses...
    mass_report_window: float = Field(600.0, gt=0)  # ...within this many seconds...
    mass_report_ban_seconds: float = Field(86400.0, gt=0)  # ...ban for this long
    # A report weighs fully towards an automatic ban only from a device at least this old
    # (seconds since first seen) about a conversation at least this long; 0 turns a ramp off.
    report_trust_device_age: float = Field(3600.0, ge=0)
    report_trust_talk_seconds: float = Field(60.0, ge=0)
    # New device tokens per address (a returning device keeps its own): fresh tokens are how
    # one person looks like many.
    device_mint_rate: float = Field(1.0, gt=0)
    device_mint_burst: float = Field(120.0, ge=1)
    # abuse closes (4000/4001) of one device, or on one address, within abuse_window...
    abuse_ban_after: int = Field(3, ge=1)
    # The same count on one address (fresh device tokens do not start it over); several people
    # behind one address add up, so an operator behind a shared NAT may raise it.
    abuse_address_ban_after: int = Field(3, ge=1)
    abuse_window: float = Field(600.0, gt=0)
    abuse_ban_seconds: float = Field(600.0, gt=0)  # ...become a temporary ban
    # Automatic bans also cover the address hash, but shorter: many people can share one address.
    auto_ip_ban_seconds: float = Field(3600.0, ge=0)
    # A moderator's ban covers the reported address hash too, for at most this long (the device
    # ban keeps its own length, permanent included): an address outlives its person.
    mod_ip_ban_seconds: float = Field(7 * 86400.0, ge=0)
    # Many nodes: new bans are also read from the store this often (0: never), in case this
    # node missed their announcement (docs/scaling.md).
    ban_poll_seconds: float = Field(2.0, ge=0)

    # Text safety (minor pool): mask contact details, score grooming signals per conversation
    text_mask_contacts: Literal["minors", "everyone", "off"] = "minors"
    text_risk_threshold: float = Field(6.0, gt=0)

    # Vision moderation: nudity detection on stills of each video client's own camera
    # (docs/moderation.md, "Vision moderation"). Needs one of two extras: `opennsfw` (open_nsfw,
    # BSD-2-Clause model) or `vision` (nudenet, AGPL-3.0 model; README "Licences"). Without
    # either, or with both and no choice made, the service runs with vision off and says so.
    # PARLEY_VISION=off is the operator's opt-out.
    vision: bool = True
    # "auto" (the one installed extra), "nudenet", "opennsfw", or "package.module:factory"
    vision_classifier: str = "auto"
    vision_workers: int = Field(0, ge=0, le=256)  # classifier processes; 0: one per CPU core
    vision_queue: int = Field(32, ge=1, le=100_000)  # frames waiting; beyond it the oldest drop
    vision_nice: int = Field(5, ge=0, le=19)  # workers' niceness: the chat's event loop goes first
    vision_max_bytes: int = Field(40_000, ge=1024, le=512 * 1024)  # one JPEG still
    vision_max_px: int = Field(320, ge=32, le=4096)  # long side of a still
    vision_quality: float = Field(0.7, gt=0, le=1)  # JPEG quality the page uses
    vision_interval: float = Field(3.0, gt=0, le=3600)  # seconds between stills...
    vision_fast_interval: float = Field(1.0, gt=0, le=3600)  # ...but this often...
    vision_fast_window: float = Field(10.0, ge=0)  # ...in a pair's first seconds...
    vision_flag_window: float = Field(30.0, ge=0)  # ...and for this long after a flag
    # Class=score pairs; a frame with any at or above its score is positive. nudenet reports
    # body parts (its labels); open_nsfw one whole-image class, NSFW (its threshold was chosen on
    # benign stills: bench/vision_compare.py). A class the classifier never reports never acts.
    vision_thresholds: str = (
        "FEMALE_GENITALIA_EXPOSED=0.5,MALE_GENITALIA_EXPOSED=0.5,ANUS_EXPOSED=0.5,"
        "FEMALE_BREAST_EXPOSED=0.6,NSFW=0.5"
    )
    vision_suspect_ratio: float = Field(0.5, gt=0, le=1)  # this share of a threshold: a flag
    vision_ban_seconds: float = Field(86400.0, gt=0)  # temporary ban after a positive
    vision_frame_rate: float = Field(2.0, gt=0)  # token bucket for `frame` messages
    vision_frame_burst: float = Field(4.0, ge=1)

    # Known abuse images (docs/moderation.md, "Known images"): every still the server receives (a
    # vision sample, a report's still) is hashed with PDQ and matched against the operator's
    # lists (`parley hashes import`). Distance and quality: the recommendations of PDQ's authors.
    hash_match_distance: int = Field(31, ge=0, le=63)  # bits of 256 that may differ
    hash_min_quality: int = Field(50, ge=0, le=100)  # PDQ quality below this never matches
    hash_list_poll: float = Field(5.0, gt=0, le=3600)  # seconds between looks for list changes
    hash_ban_seconds: float = Field(30 * 86400.0, gt=0)  # ban after a match (then a human looks)

    # Retention (parley purge)
    retention_days: float = Field(30.0, gt=0)
    legal_hold_days: int = Field(365, ge=365)
    database_schema: str = ""  # PostgreSQL only

    # Connection caps
    max_connections: int = 20000
    max_connections_per_ip: int = 64
    # Proxies (load balancers) whose X-Forwarded-For/-Proto name the client: comma-separated
    # addresses or networks, "*" for any, "" for none. Every per-address limit and ban relies on
    # it: behind a load balancer on another host, list that host, or all clients are one address.
    forwarded_allow_ips: str = "127.0.0.1"
    # Web pages of other origins allowed to open /ws besides the service's own (comma-separated
    # "https://host[:port]"; parley.origin). Empty: the service's own pages only.
    allowed_origins: str = ""

    # Public pages and figures (docs/pages.md)
    pages_dir: str = ""  # folder of operator templates (NAME.LANG.html) replacing the defaults
    public_online_step: int = Field(10, ge=1)  # public "online" is rounded down to this
    # /metrics is for operators: with a token it needs "Authorization: Bearer <token>"; with a
    # bind ("127.0.0.1:9100") it is served only on that listener, not on the public one.
    metrics_token: str = ""
    metrics_bind: str = ""

    # Moderator console (/mod, /api/mod; docs/moderation.md)
    mod_session_idle: float = Field(1800.0, gt=0)  # seconds without a request before logout
    mod_session_max: float = Field(12 * 3600.0, gt=0)  # seconds after login, however busy
    # Secure cookie: "auto" drops the flag only for plain http on 127.0.0.1/localhost (dev)
    mod_cookie_secure: Literal["auto", "always", "never"] = "auto"
    # Login backoff (no lock): after this many failures in a row from an address, or for a name,
    # each further attempt waits 1 s, 2 s, 4 s... (moderation/throttle.py)...
    mod_login_max_failures: int = Field(5, ge=1)
    mod_login_lockout: float = Field(900.0, gt=0)  # ...at most this many seconds
    mod_login_rate: float = Field(0.2, gt=0)  # login attempts per second per address...
    mod_login_burst: float = Field(10.0, ge=1)  # ...with this burst
    mod_claim_timeout: float = Field(900.0, gt=0)  # a claim older than this can be taken over
    appeal_rate: float = Field(1.0, gt=0)  # /api/appeal requests per second per address...
    appeal_burst: float = Field(20.0, ge=1)  # ...with this burst (shared by every node)

    # Transparency (docs/moderation.md, "Transparency"): statements of reasons for the EU's DSA
    # Transparency Database, the transparency report, response times.
    sor_territorial_scope: str = "EEA"  # where a ban applies: EEA, EU, or EEA country codes
    sor_rules_url: str = ""  # the published community rules (https://...), named as the ground
    # A minor_in_danger report still waiting this long raises an alert (metric, error log line).
    minor_in_danger_alert_seconds: float = Field(900.0, gt=0)
    response_time_window: float = Field(86400.0, gt=0)  # p50/p95 time to decision over this

    @model_validator(mode="after")
    def _turn_is_complete(self) -> Settings:
        # A half-configured TURN fails every video call quietly; refuse to start instead.
        if bool(self.turn_urls.strip()) != bool(self.turn_secret):
            raise ValueError("PARLEY_TURN_URLS and PARLEY_TURN_SECRET must be set together")
        if "ice_transport_policy" not in self.model_fields_set and self.turn_urls.strip():
            # With a relay at hand, strangers need not learn each other's address.
            self.ice_transport_policy = "relay"
        if self.ice_transport_policy == "relay" and not self.turn_urls.strip():
            raise ValueError("PARLEY_ICE_TRANSPORT_POLICY=relay needs a TURN server")
        return self

    @model_validator(mode="after")
    def _heartbeat_is_sane(self) -> Settings:
        # A quiet client is pinged after heartbeat_interval and closed after heartbeat_timeout:
        # a timeout within the interval would close people the server never pinged.
        if self.heartbeat_timeout <= self.heartbeat_interval:
            raise ValueError(
                "PARLEY_HEARTBEAT_TIMEOUT must be longer than PARLEY_HEARTBEAT_INTERVAL "
                f"({self.heartbeat_timeout} <= {self.heartbeat_interval})"
            )
        return self

    @model_validator(mode="after")
    def _vision_fits(self) -> Settings:
        self.vision_threshold_map()  # a typo in the thresholds stops start-up
        if self.vision and self.vision_frame_chars > self.ws_max_size:
            raise ValueError(
                f"PARLEY_WS_MAX_SIZE must be at least {self.vision_frame_chars} to carry a still "
                f"of PARLEY_VISION_MAX_BYTES={self.vision_max_bytes}"
            )
        return self

    @model_validator(mode="after")
    def _minor_pool_default(self) -> Settings:
        if "minor_pool_open" not in self.model_fields_set and self.age_assurance == "attested":
            self.minor_pool_open = True
        return self

    @model_validator(mode="after")
    def _origins_parse(self) -> Settings:
        parse_allowed(self.allowed_origins)  # a typo stops start-up
        return self

    @model_validator(mode="after")
    def _languages_name_pools(self) -> Settings:
        for language in self.language_set:  # each names a pool: a bad one stops start-up
            try:
                check_language(language)
            except ValueError as exc:
                raise ValueError(f"PARLEY_LANGUAGES: {exc}") from None
        return self

    @model_validator(mode="after")
    def _transparency_parses(self) -> Settings:
        territorial_scope(self.sor_territorial_scope)  # a typo stops start-up
        url = self.sor_rules_url.strip()
        if url and (not url.startswith(("https://", "http://")) or len(url) > 500 or " " in url):
            raise ValueError(
                f"PARLEY_SOR_RULES_URL: {url!r} is not an http(s) URL of at most 500 characters"
            )
        return self

    @model_validator(mode="after")
    def _gc_parses(self) -> Settings:
        self.gc_policy()
        return self

    @model_validator(mode="after")
    def _metrics_bind_parses(self) -> Settings:
        self.metrics_address()  # a typo stops start-up
        return self

    def gc_policy(self) -> GcPolicy:
        return parse_gc_policy(self.gc)

    def metrics_address(self) -> tuple[str, int] | None:
        """``metrics_bind`` as (host, port), or None when /metrics is on the public listener."""
        if not self.metrics_bind.strip():
            return None
        host, sep, port = self.metrics_bind.strip().rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
            raise ValueError(f"PARLEY_METRICS_BIND: {self.metrics_bind!r} is not HOST:PORT")
        return host, int(port)

    @property
    def vision_frame_chars(self) -> int:
        """The longest `frame` message: base64 of the largest still plus the JSON around it."""
        return -(-self.vision_max_bytes // 3) * 4 + 512

    def vision_threshold_map(self) -> dict[str, float]:
        """``vision_thresholds`` as {class: score}; ValueError on a malformed entry."""
        out: dict[str, float] = {}
        for entry in self.vision_thresholds.split(","):
            if not entry.strip():
                continue
            label, sep, value = entry.partition("=")
            try:
                score = float(value)
            except ValueError:
                score = -1.0
            if not sep or not label.strip() or not 0.0 < score <= 1.0:
                raise ValueError(f"PARLEY_VISION_THRESHOLDS: {entry.strip()!r} is not CLASS=0..1")
            out[label.strip().upper()] = score
        return out

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'parley.db').as_posix()}"

    @property
    def language_set(self) -> frozenset[str]:
        return frozenset(x.strip().lower() for x in self.languages.split(",") if x.strip())

"""The real nginx, from deploy/nginx/parley.conf, in front of two Parley nodes on one Redis.

The site file is used as shipped; only what must differ on a test machine is changed (listen
addresses, the node list, the certificate, the ACME webroot), and each change must match exactly
the lines it expects, so the test fails if the file and the test drift apart.

The address Parley sees is observed through the per-address connection cap, counted across nodes
in Redis (``PARLEY_MAX_CONNECTIONS_PER_IP=1``; a second connection from one address is closed
4005). People connect from distinct loopback addresses (127.0.0.2, ...), as real clients never
share nginx's own address (127.0.0.1, the one trusted proxy), and each sends a forged
``X-Forwarded-For`` of its own.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.exceptions import InvalidStatus

from harness import components
from harness.client import Client
from harness.protocol import sample, scrape
from harness.server import HOST, ServerHandle, free_port
from harness.services import NginxHandle, RedisHandle, redis_cluster, start_nginx
from parley.config import Settings
from parley.protocol import CloseCode

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import ServerFactory

SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "parley.conf"
FORGED = "203.0.113.7"  # what a client claims to be in its own X-Forwarded-For


def _sub(text: str, pattern: str, repl: str, count: int) -> str:
    """``re.sub`` over lines that must match exactly ``count`` times."""
    out, n = re.subn(pattern, repl, text, flags=re.MULTILINE)
    assert n == count, f"{SITE.name}: expected {count} line(s) matching {pattern!r}, found {n}"
    return out


def adapt_site(
    text: str,
    *,
    nodes: list[ServerHandle],
    http_port: int,
    https_port: int,
    cert: Path,
    key: Path,
    acme: Path,
) -> str:
    """The shipped site file with only the machine-specific lines changed."""
    servers = "".join(f"    server {n.host}:{n.port} max_fails=1 fail_timeout=5s;\n" for n in nodes)
    text = _sub(text, r"^    server 127\.0\.0\.1:\d+ [^;\n]*;\n", "", 3)
    text = _sub(text, r"^(upstream parley_nodes \{\n)", rf"\g<1>{servers}", 1)
    text = _sub(text, r"^    listen 80;$", f"    listen {HOST}:{http_port};", 1)
    text = _sub(text, r"^    listen 443 ssl;$", f"    listen {HOST}:{https_port} ssl;", 1)
    text = _sub(text, r"^    listen \[::\]:(80|443 ssl);\n", "", 2)  # tests listen on loopback only
    for name, path in (("ssl_certificate", cert), ("ssl_certificate_key", key)):
        text = _sub(text, rf"^    {name} /etc/letsencrypt/\S+;$", f"    {name} {path};", 1)
    return _sub(text, r"^        root /var/www/acme;$", f"        root {acme};", 1)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (what the operator's ACME client would have written)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chat.example.org")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("chat.example.org"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Edge:
    """nginx as the internet sees it."""

    nginx: NginxHandle
    https_port: int
    http_port: int
    tls: ssl.SSLContext
    acme: Path

    @property
    def https(self) -> str:
        return f"https://{HOST}:{self.https_port}"

    @property
    def wss(self) -> str:
        return f"wss://{HOST}:{self.https_port}/ws"

    async def connect(self, real: str, forged: str = FORGED, origin: str | None = "") -> Client:
        """A WebSocket through nginx from the loopback address ``real``, claiming ``forged``,
        opened by a page of ``origin`` (default: the site's own page; None: no page, a script)."""
        return await Client.open(
            self.wss,
            ssl=self.tls,
            local_addr=(real, 0),
            additional_headers={"X-Forwarded-For": forged},
            origin=self.https if origin == "" else origin,
        )


@pytest.fixture
def edge_for(tmp_path: Path) -> Iterator[Callable[[list[ServerHandle]], Edge]]:
    binary = components.require_nginx()
    started: list[NginxHandle] = []

    def make(nodes: list[ServerHandle]) -> Edge:
        prefix = tmp_path / f"nginx{len(started)}"
        acme = prefix / "acme"
        (acme / ".well-known" / "acme-challenge").mkdir(parents=True)
        cert, key = self_signed(prefix)
        https_port, http_port = free_port(), free_port()
        site = prefix / "parley.conf"
        site.write_text(
            adapt_site(
                SITE.read_text(),
                nodes=nodes,
                http_port=http_port,
                https_port=https_port,
                cert=cert,
                key=key,
                acme=acme,
            )
        )
        handle = start_nginx(binary, prefix, site, [https_port, http_port])
        started.append(handle)
        tls = ssl.create_default_context(cafile=str(cert))
        return Edge(handle, https_port, http_port, tls, acme)

    yield make
    for handle in started:
        handle.stop()


def test_nginx_idle_limits_outlast_the_heartbeat() -> None:
    """nginx must neither cut a healthy socket between pings nor a dead one before Parley's own
    heartbeat closes it with a code that says so (4002)."""
    ws = re.search(r"^    location = /ws \{\n(.*?)^    \}", SITE.read_text(), re.M | re.S)
    assert ws, "no location = /ws in the site"
    heartbeat = Settings.model_fields["heartbeat_timeout"].default
    for directive in ("proxy_read_timeout", "proxy_send_timeout"):
        found = re.search(rf"^\s*{directive} (\d+)s;$", ws.group(1), re.M)
        assert found, f"{directive} is not set in seconds for /ws"
        assert int(found.group(1)) >= 2 * heartbeat, f"{directive} is not well above the heartbeat"


async def test_two_people_chat_through_nginx_and_parley_sees_their_real_addresses(
    server_factory: ServerFactory,
    redis_factory: Callable[[], RedisHandle],
    tmp_path: Path,
    edge_for: Callable[[list[ServerHandle]], Edge],
) -> None:
    # As docs/deploy.md says for nginx on the nodes' host: trust 127.0.0.1, nothing else.
    nodes = redis_cluster(
        server_factory,
        redis_factory(),
        tmp_path,
        n=2,
        PARLEY_FORWARDED_ALLOW_IPS="127.0.0.1",
        PARLEY_MAX_CONNECTIONS_PER_IP="1",
    )
    edge = edge_for(nodes)

    # Both claim the same forged address: were it believed, the cap of 1 would refuse b.
    a = await edge.connect("127.0.0.2")
    await a.hello()
    b = await edge.connect("127.0.0.3")
    await b.hello()
    # nginx round-robins: one person on each node (counted by each node itself).
    per_node = [sample(await scrape(n.url), "parley_connections_total") for n in nodes]
    assert per_node == [1.0, 1.0], f"connections per node: {per_node}"

    assert (await a.start())["type"] == "waiting"
    assert (await b.start())["type"] == "matched"
    pair = (await a.expect("matched"))["pair"]
    await a.say("hello through nginx", pair=pair)
    assert (await b.expect("message"))["text"] == "hello through nginx"
    await b.say("and back", pair=pair)
    assert (await a.expect("message"))["text"] == "and back"

    # a's own address again, under another forged name: the cap still sees a's address.
    again = await edge.connect("127.0.0.2", forged="198.51.100.9")
    assert await again.wait_closed() == CloseCode.SERVER_FULL, "a forged address was believed"
    # A newcomer claiming a's address (and nginx's, for good measure) is not taken for either.
    framer = await edge.connect("127.0.0.4", forged="127.0.0.2, 127.0.0.1")
    assert (await framer.hello())["type"] == "welcome"
    await a.assert_silent(0.2)  # a's chat carried on

    # A page on another site cannot open the chat for its visitors (issue 13, finding 8); the
    # site's own page on its non-default port can, which needs nginx to pass the port on.
    with pytest.raises(InvalidStatus) as refused:
        await edge.connect("127.0.0.8", origin="https://evil.example")
    assert refused.value.response.status_code == 403

    # A node that is down is skipped: every newcomer reaches the other one.
    nodes[0].stop()
    for ip in ("127.0.0.5", "127.0.0.6", "127.0.0.7"):
        late = await edge.connect(ip)
        assert (await late.hello())["type"] == "welcome"


async def test_nginx_serves_health_redirects_and_hides_metrics(
    server_factory: ServerFactory, edge_for: Callable[[list[ServerHandle]], Edge]
) -> None:
    node = server_factory()
    edge = edge_for([node])
    token = edge.acme / ".well-known" / "acme-challenge" / "tok3n"
    token.write_text("proof")

    async with httpx.AsyncClient(base_url=edge.https, verify=edge.tls, timeout=5) as web:
        assert (await web.get("/readyz")).status_code == 200
        page = await web.get("/")
        assert page.status_code == 200 and "Content-Security-Policy" in page.headers
        assert "max-age" in page.headers["Strict-Transport-Security"]
        # /metrics is for Prometheus on the nodes' own ports, under no spelling through nginx.
        for path in ("/metrics", "/metrics/", "//metrics", "/%6Detrics", "/metrics?x=1"):
            r = await web.get(path)
            assert "parley_" not in r.text, f"{path} leaked metrics ({r.status_code})"
    assert await scrape(node.url), "the node itself still serves /metrics"

    plain = f"http://{HOST}:{edge.http_port}"
    async with httpx.AsyncClient(base_url=plain, timeout=5) as web:
        r = await web.get("/ws?x=1")
        assert r.status_code == 301
        assert r.headers["location"].startswith("https://") and r.headers["location"].endswith(
            "/ws?x=1"
        )
        acme = await web.get("/.well-known/acme-challenge/tok3n")
        assert (acme.status_code, acme.text) == (200, "proof")


async def test_trusting_every_proxy_lets_a_client_pick_its_address(
    server_factory: ServerFactory, edge_for: Callable[[list[ServerHandle]], Edge]
) -> None:
    """Why docs/deploy.md forbids PARLEY_FORWARDED_ALLOW_IPS=*: Parley then takes the left-most
    entry, which the client wrote, so two different people claiming one address are one."""
    node = server_factory(PARLEY_FORWARDED_ALLOW_IPS="*", PARLEY_MAX_CONNECTIONS_PER_IP="1")
    edge = edge_for([node])
    first = await edge.connect("127.0.0.2")
    await first.hello()
    other = await edge.connect("127.0.0.3")  # another person, the same forged address
    assert await other.wait_closed() == CloseCode.SERVER_FULL
    # ... and a forged address of its own gets the first person in again, past the cap.
    again = await edge.connect("127.0.0.2", forged="198.51.100.9")
    assert (await again.hello())["type"] == "welcome"

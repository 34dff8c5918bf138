"""Device tokens: random ids the server signs, so a client cannot pick someone else's.

A device token is what blocks (and later bans) attach to. It survives reconnects because the page
keeps it in localStorage. It is not an identity and carries no personal data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from parley.quotas.base import Quotas


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class DeviceTokens:
    PREFIX = "d_"

    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(b"parley-device-v1" + secret).digest()

    def _mac(self, ident: str) -> str:
        return _b64(hmac.new(self._key, ident.encode(), hashlib.sha256).digest()[:16])

    def issue(self) -> str:
        ident = _b64(secrets.token_bytes(16))
        return f"{self.PREFIX}{ident}.{self._mac(ident)}"

    def verify(self, token: str | None) -> bool:
        if not token or len(token) > 80 or not token.startswith(self.PREFIX):
            return False
        ident, _, mac = token[len(self.PREFIX) :].partition(".")
        return bool(ident) and hmac.compare_digest(mac, self._mac(ident))

    def address_tag(self, ip: str) -> str:
        """A keyed digest of a network address, for counters shared by nodes (quotas): the
        address itself is never kept. Cheap, unlike the store's rotating IP keys."""
        return self._mac("address:" + ip)


async def mint(
    tokens: DeviceTokens, quotas: Quotas, ip: str, rate: float, burst: float
) -> str | None:
    """A new device token, unless this address has minted its budget (``PARLEY_DEVICE_MINT_*``):
    fresh tokens are how one person looks like many, so they are not free. None: refused."""
    if not await quotas.take(f"mint:{tokens.address_tag(ip)}", rate, burst):
        return None
    return tokens.issue()

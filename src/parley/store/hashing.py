"""Hashing of identifiers: nothing that names a device or an address is stored in the clear.

- A device token is stored as its SHA-256. Tokens are 128 random bits plus a MAC, so the digest
  cannot be reversed, and the same token always gives the same row.
- An IP address is stored only as HMAC-SHA256 under a rotating key (:mod:`parley.store.ipkeys`).
  An IPv6 address is cut to its /64 prefix first: one subscriber usually holds a whole /64, so a
  ban on one address of it must hold for the others. An IPv4-mapped IPv6 address counts as IPv4.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from parley.store.errors import InvalidInput
from parley.store.values import DeviceHash, IpHash

_HEX = frozenset("0123456789abcdef")


def device_hash(token: str) -> DeviceHash:
    """The stored form of a device token."""
    return DeviceHash(hashlib.sha256(token.encode()).hexdigest())


def is_hash(value: object) -> bool:
    """True for a lowercase hex SHA-256 digest (what DeviceHash and IpHash hold)."""
    return isinstance(value, str) and len(value) == 64 and _HEX.issuperset(value)


def check_device(value: DeviceHash) -> DeviceHash:
    if not is_hash(value):
        raise InvalidInput("a device must be given as device_hash(token), never the token")
    return value


def ip_prefix(ip: str) -> bytes:
    """The part of an address that identifies a subscriber: IPv4 whole, IPv6 its /64."""
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError as exc:
        raise InvalidInput("not an IP address") from exc
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return b"4" + addr.ipv4_mapped.packed
        return b"6" + addr.packed[:8]
    return b"4" + addr.packed


def derive_ip_key(secret: bytes, pepper: bytes) -> bytes:
    """The HMAC key for one stored IP key.

    ``pepper`` is the server secret, which is not in the database: a copy of the database alone
    is then not enough to test guessed addresses against the stored hashes.
    """
    return hmac.new(pepper, b"parley-ip-key-v1|" + secret, hashlib.sha256).digest()


def keyed_ip_hash(key: bytes, ip: str) -> IpHash:
    return IpHash(hmac.new(key, ip_prefix(ip), hashlib.sha256).hexdigest())

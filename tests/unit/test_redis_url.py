"""Reading a Parley Redis URL (``parley.redis_url``): the shapes README documents, and a clear
error for each mistake an operator can make in one."""

from __future__ import annotations

import pytest

from parley.redis_url import SentinelTarget, is_redis_url, key_prefix, parse_sentinel, shown


def test_the_documented_sentinel_shape() -> None:
    url = "redis+sentinel://:pw@host1:26379,host2:26380,host3/mymaster/2?prefix=chat"
    assert parse_sentinel(url) == SentinelTarget(
        sentinels=(("host1", 26379), ("host2", 26380), ("host3", 26379)),
        service="mymaster",
        db=2,
        password="pw",
    )
    assert key_prefix(url) == "chat"
    assert is_redis_url(url)


def test_db_defaults_to_0_and_the_sentinels_may_have_credentials_of_their_own() -> None:
    url = (
        "redis+sentinel://app:p%40ss@[::1]:26379,10.0.0.2/cache"
        "?sentinel_password=s3&sentinel_username=watch"
    )
    target = parse_sentinel(url)
    assert target.sentinels == (("::1", 26379), ("10.0.0.2", 26379))
    assert (target.service, target.db) == ("cache", 0)
    assert (target.username, target.password) == ("app", "p@ss")
    assert (target.sentinel_username, target.sentinel_password) == ("watch", "s3")
    assert key_prefix(url) == "parley"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis+sentinel:///mymaster/0", "names no Sentinel"),
        ("redis+sentinel://h:26379", "needs the service name"),
        ("redis+sentinel://h:26379/a/0/x", "needs the service name"),
        ("redis+sentinel://h:26379/mymaster/zero", "db 'zero' is not a number"),
        ("redis+sentinel://h:port/mymaster", "port 'port' is not a number"),
        ("redis+sentinel://h:70000/mymaster", "out of range"),
        ("redis+sentinel://h/mymaster?password=x", "does not take password"),
    ],
)
def test_each_mistake_is_named(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_sentinel(url)


def test_what_is_logged_has_no_credentials() -> None:
    assert shown("redis+sentinel://u:pw@h1,h2:1/m/1?sentinel_password=s&prefix=p") == (
        "redis+sentinel://h1:26379,h2:1/m/1"
    )
    assert shown("redis://u:pw@h:6379/0?prefix=p") == "redis://h:6379/0"
    assert shown("redis+sentinel://u:pw@h/") == "redis+sentinel://(unreadable)"


def test_other_schemes_are_not_redis() -> None:
    assert is_redis_url("rediss://h/0") and is_redis_url("unix:///run/redis.sock")
    assert not is_redis_url("memory://") and not is_redis_url("rediss+sentinel://h/m")

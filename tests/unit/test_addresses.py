from __future__ import annotations

import pytest

from service.addresses import address_key
from service.config import ConfigError, Settings


@pytest.mark.parametrize(
    ("address", "prefix", "key"),
    [
        ("203.0.113.7", 64, "203.0.113.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64, "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", 64, "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", 48, "2001:db8:1::/48"),
        ("2001:db8:1:2::1", 128, "2001:db8:1:2::1/128"),
        ("fe80::1%eth0", 64, "fe80::/64"),
        ("::ffff:198.51.100.1", 64, "198.51.100.1"),
        ("unknown", 64, "unknown"),
    ],
)
def test_address_key(address: str, prefix: int, key: str) -> None:
    assert address_key(address, prefix) == key


def test_ipv6_prefix_setting_is_read_and_bounded() -> None:
    assert Settings.from_env({}).client_address.ipv6_prefix == 64
    assert Settings.from_env({"CALLGATE_IPV6_PREFIX": "56"}).client_address.ipv6_prefix == 56
    for wrong in ("0", "16", "129", "sixty-four"):
        with pytest.raises(ConfigError) as raised:
            Settings.from_env({"CALLGATE_IPV6_PREFIX": wrong})
        assert raised.value.variable == "CALLGATE_IPV6_PREFIX"

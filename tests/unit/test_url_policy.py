"""The config-time SSRF check: non-public literals and loopback names refused, no lookup made."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from npo_integration.errors import ConfigError
from npo_integration.registry.config_input import read_config
from npo_integration.registry.validation import check_config
from npo_integration.url_policy import check_url_allowed, literal_address


@pytest.fixture(autouse=True)
def no_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    """A config is checked on the event loop: a blocking lookup there would stall the worker."""

    def blocking_lookup(*args: object, **kwargs: object) -> None:
        raise AssertionError("socket.getaddrinfo called while checking a config")

    monkeypatch.setattr(socket, "getaddrinfo", blocking_lookup)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://100.64.0.1/api", "non-public address"),
        ("http://[2002:a00:1::1]/api", "non-public address"),
        ("https://[::ffff:10.0.0.1]/api", "non-public address"),
        ("http://169.254.169.254/", "non-public address"),
        ("http://10.1.2.3:8443/api", "non-public address"),
        ("http://LOCALHOST./api", "loopback name"),
        ("http://npo.localhost/api", "loopback name"),
    ],
)
def test_non_public_hosts_are_refused(url: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=f"^base_url: host .* is a {reason}; private addresses"):
        check_url_allowed(url, allow_private=False)
    check_url_allowed(url, allow_private=True)


@pytest.mark.parametrize(
    "url", ["https://npo.example.org/api", "https://93.184.216.34", "https://[2606:4700::1111]/"]
)
def test_public_literals_and_names_pass_without_a_lookup(url: str) -> None:
    check_url_allowed(url, allow_private=False)


def test_the_token_url_is_named_when_refused() -> None:
    config = read_config(
        {
            "npo_id": "npo-1",
            "display_name": "NPO",
            "base_url": "https://npo.example.org",
            "transform": {"kind": "plugin", "name": "simple"},
            "auth": {
                "kind": "oauth2_client_credentials",
                "token_url": "http://169.254.169.254/token",
                "client_id": "id",
                "client_secret": "secret",
            },
        }
    )
    with pytest.raises(ConfigError, match=r"^auth\.token_url: host '169\.254\.169\.254'"):
        check_config(config, allow_private=False)


@given(
    st.one_of(
        st.text(max_size=40),
        st.ip_addresses().map(str),
        st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
        st.from_regex(r"[0-9.:a-fA-F%\[\]]{0,30}", fullmatch=True),
    )
)
def test_literal_address_reads_every_host_as_ipaddress_does(host: str) -> None:
    """The shortcut for names answers what a parse by ``ipaddress`` answers, for any host."""
    try:
        expected: object = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        expected = None
    assert literal_address(host) == expected

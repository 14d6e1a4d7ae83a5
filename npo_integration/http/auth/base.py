"""The contract every authenticator implements: sign an outgoing request, maybe refresh."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from multidict import CIMultiDict
from pydantic import SecretStr

from npo_integration.http.response import NpoResponse
from npo_integration.sealing import SecretBox

ConfigT = TypeVar("ConfigT")
if TYPE_CHECKING:
    from npo_integration.models.npo_config import OAuth2AuthorizationCodeAuth


class PostForm(Protocol):
    """Send one unauthenticated form POST (OAuth2 token requests); ``basic``: the client's id
    and secret as HTTP Basic (RFC 6749 §2.3.1)."""

    def __call__(
        self, url: str, form: list[tuple[str, str]], *, basic: tuple[str, str] | None = None
    ) -> Awaitable[NpoResponse]: ...


class GrantBroker(Protocol):
    """Where an authorization-code authenticator gets access tokens (``auth/grants.py``): this
    worker's keeper when it owns the NPO's grant, else the worker that does."""

    async def access_token(
        self,
        state_key: str,
        config: OAuth2AuthorizationCodeAuth,
        post_form: PostForm,
        base_url: str,
        rejected: str | None = None,
    ) -> tuple[str, float]:
        """``(sealed access token, expires_at epoch)``."""
        ...


REDACTED = "***"


@dataclass(slots=True)
class OutgoingRequest:
    """The parts of a request an authenticator may change; built fresh for every send."""

    method: str
    url: str
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    params: list[tuple[str, str]] = field(default_factory=list)

    def __repr__(self) -> str:  # headers and params may hold a secret once signed
        return f"OutgoingRequest({self.method} {self.url})"


@dataclass(frozen=True, slots=True)
class AuthContext:
    """What authenticators may need besides their own config."""

    box: SecretBox
    base_url: str
    post_form: PostForm
    """Send one unauthenticated form POST (OAuth2 token requests)."""
    clock: Callable[[], float] = time.monotonic
    state_key: str = ""
    """The source's state key (``npo`` or ``npo/source``): names its OAuth2 grant."""
    grants: GrantBroker | None = None


class Authenticator(ABC, Generic[ConfigT]):
    """Signs requests for one NPO. Secrets stay sealed in configs, tables and topics;
    an authenticator opens them when it first signs and keeps them in memory only
    (never logged, never stored)."""

    def __init__(self, config: ConfigT, context: AuthContext) -> None:
        self.config = config
        self.context = context
        self._opened: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @abstractmethod
    async def apply(self, request: OutgoingRequest) -> None:
        """Add this scheme's headers or query parameters to ``request``."""

    async def refresh(self, rejected: OutgoingRequest) -> bool:
        """The NPO answered 401 to ``rejected``: return True if signing again may succeed."""
        return False

    @property
    def secret_params(self) -> frozenset[str]:
        """Query parameter names that carry a secret (kept out of logged and returned URLs)."""
        return frozenset()

    def _open(self, secret: SecretStr) -> str:
        """The clear value of a sealed secret of this NPO's config, opened once and kept with this
        authenticator (which lives as long as the config: a changed secret is a new authenticator).
        Opening costs a Fernet decryption; every request of a pull sweep paid it."""
        sealed = secret.get_secret_value()
        opened = self._opened.get(sealed)
        if opened is None:
            opened = self._opened[sealed] = self.context.box.open(sealed)
        return opened

    def _clear_values(self) -> Iterable[str]:
        """The clear secrets this scheme sends, for :meth:`scrub`."""
        return ()

    def scrub(self, text: str) -> str:
        """``text`` (an NPO's error body) with our secrets replaced, should the NPO echo one."""
        for value in self._clear_values():
            if len(value) >= 4 and value in text:
                text = text.replace(value, REDACTED)
        return text


AnyAuthenticator = Authenticator[Any]

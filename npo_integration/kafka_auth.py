"""Kafka TLS and SASL, from the settings to every Kafka client of a worker.

Faust's consumer, producer and topic admin take ``broker_credentials``; the
service's own aiokafka clients (the batch producer, the output log) take the
keyword arguments Faust derives from the same credentials object
(``client_options``), so no client can connect differently from the others.
The password is handed to aiokafka only: never logged, and Faust's
``SASLCredentials`` leaves it out of its repr.
"""

from __future__ import annotations

import ssl
from typing import Any

from faust.auth import SASLCredentials, SSLCredentials
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from faust.types.auth import CredentialsT

from npo_integration.errors import ConfigError
from npo_integration.settings import SASL_PROTOCOLS, TLS_PROTOCOLS, Settings


def broker_credentials(settings: Settings) -> CredentialsT | None:
    """Faust's ``broker_credentials`` for the configured protocol (``None``: plaintext)."""
    protocol = settings.kafka_security_protocol
    context = ssl_context(settings) if protocol in TLS_PROTOCOLS else None
    if protocol in SASL_PROTOCOLS:
        # The settings' validation guarantees all three for a SASL protocol.
        assert settings.kafka_sasl_password is not None
        return SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password.get_secret_value(),
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return SSLCredentials(context)
    return None


def client_options(credentials: CredentialsT | None) -> dict[str, Any]:
    """aiokafka's security arguments for ``credentials``: exactly what Faust gives its clients."""
    return dict(credentials_to_aiokafka_auth(credentials))


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """A client context that verifies the broker's certificate and host name (against the CA
    file, else the system's CAs) and presents the client certificate when one is set."""
    try:
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH,
            cafile=str(settings.kafka_ssl_ca_file) if settings.kafka_ssl_ca_file else None,
        )
    except ssl.SSLError as exc:
        raise ConfigError(
            f"invalid setting NPO_KAFKA_SSL_CA_FILE: no PEM certificate in "
            f"{settings.kafka_ssl_ca_file} ({exc.reason})"
        ) from None
    if settings.kafka_ssl_cert_file is not None:
        try:
            # An empty password: an encrypted key fails here instead of OpenSSL asking on a tty.
            context.load_cert_chain(
                settings.kafka_ssl_cert_file, keyfile=settings.kafka_ssl_key_file, password=""
            )
        except ssl.SSLError as exc:
            files = " and ".join(
                str(f) for f in (settings.kafka_ssl_cert_file, settings.kafka_ssl_key_file) if f
            )
            raise ConfigError(
                "invalid setting NPO_KAFKA_SSL_CERT_FILE: no PEM certificate and unencrypted "
                f"matching key in {files} ({exc.reason})"
            ) from None
    return context

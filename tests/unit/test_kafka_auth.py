"""Kafka TLS and SASL settings: what each combination gives every Kafka client, and the one-line
errors of the combinations that cannot work (the password in none of them)."""

from __future__ import annotations

import datetime
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from npo_integration import kafka_auth
from npo_integration.errors import ConfigError
from npo_integration.settings import Settings, get_settings

PASSWORD = "pw-7f3c9a-do-not-print"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import os

    for name in list(os.environ):
        if name.startswith("NPO_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NPO_SECRETS_KEYS", Fernet.generate_key().decode())
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(f"NPO_{name.upper()}", value)
    return get_settings()


def _error(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    with pytest.raises(ConfigError) as raised:
        settings = _settings(monkeypatch, **env)
        kafka_auth.broker_credentials(settings)
    return str(raised.value)


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed certificate and its key, as PEM files."""
    directory = tmp_path_factory.mktemp("pem")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    files = {
        "cert": directory / "cert.pem",
        "key": directory / "key.pem",
        "garbage": directory / "garbage.pem",
    }
    files["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files["garbage"].write_text("not a certificate\n")
    return files


def test_plaintext_is_the_default_and_needs_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch)
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert kafka_auth.broker_credentials(settings) is None
    assert kafka_auth.client_options(None) == {"security_protocol": "PLAINTEXT"}


def test_sasl_ssl_gives_every_client_the_mechanism_the_user_and_a_verifying_context(
    monkeypatch: pytest.MonkeyPatch, pem: dict[str, Path]
) -> None:
    settings = _settings(
        monkeypatch,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="svc",
        kafka_sasl_password=PASSWORD,
        kafka_ssl_ca_file=str(pem["cert"]),
    )
    credentials = kafka_auth.broker_credentials(settings)
    options = kafka_auth.client_options(credentials)
    context = options.pop("ssl_context")
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "svc",
        "sasl_plain_password": PASSWORD,
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "test CA"),),)]
    assert PASSWORD not in repr(settings) + repr(credentials)


def test_sasl_plaintext_has_no_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(
        monkeypatch,
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="svc",
        kafka_sasl_password=PASSWORD,
    )
    options = kafka_auth.client_options(kafka_auth.broker_credentials(settings))
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert options["sasl_mechanism"] == "PLAIN"
    assert options["ssl_context"] is None


def test_ssl_with_a_client_certificate_presents_it(
    monkeypatch: pytest.MonkeyPatch, pem: dict[str, Path]
) -> None:
    settings = _settings(
        monkeypatch,
        kafka_security_protocol="SSL",
        kafka_ssl_cert_file=str(pem["cert"]),
        kafka_ssl_key_file=str(pem["key"]),
    )
    options = kafka_auth.client_options(kafka_auth.broker_credentials(settings))
    assert options["security_protocol"] == "SSL"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert "sasl_plain_password" not in options


def test_a_sasl_protocol_without_its_settings_names_each_missing_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _error(monkeypatch, kafka_security_protocol="SASL_SSL") == (
        "invalid setting NPO_KAFKA_SASL_MECHANISM: required when NPO_KAFKA_SECURITY_PROTOCOL"
        " is SASL_SSL; "
        "invalid setting NPO_KAFKA_SASL_USERNAME: required when NPO_KAFKA_SECURITY_PROTOCOL"
        " is SASL_SSL; "
        "invalid setting NPO_KAFKA_SASL_PASSWORD: required when NPO_KAFKA_SECURITY_PROTOCOL"
        " is SASL_SSL"
    )


SASL = {
    "kafka_sasl_mechanism": "PLAIN",
    "kafka_sasl_username": "svc",
    "kafka_sasl_password": PASSWORD,
}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {**SASL, "kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "GSSAPI"},
            "invalid setting NPO_KAFKA_SASL_MECHANISM: Input should be 'PLAIN', "
            "'SCRAM-SHA-256' or 'SCRAM-SHA-512'",
        ),
        (
            {"kafka_security_protocol": "TLS"},
            "invalid setting NPO_KAFKA_SECURITY_PROTOCOL: Input should be 'PLAINTEXT', 'SSL', "
            "'SASL_PLAINTEXT' or 'SASL_SSL'",
        ),
        (
            {"kafka_sasl_password": PASSWORD},
            "invalid setting NPO_KAFKA_SASL_PASSWORD: set, but NPO_KAFKA_SECURITY_PROTOCOL is "
            "PLAINTEXT (SASL_PLAINTEXT or SASL_SSL?)",
        ),
        (
            {
                **SASL,
                "kafka_security_protocol": "SASL_PLAINTEXT",
                "kafka_ssl_ca_file": "/etc/hosts",
            },
            "invalid setting NPO_KAFKA_SSL_CA_FILE: set, but NPO_KAFKA_SECURITY_PROTOCOL is "
            "SASL_PLAINTEXT (SSL or SASL_SSL?)",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_ca_file": "/nonexistent/ca.pem"},
            "invalid setting NPO_KAFKA_SSL_CA_FILE: no such file: /nonexistent/ca.pem",
        ),
    ],
)
def test_a_combination_that_cannot_work_stops_the_worker_with_one_line(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    message = _error(monkeypatch, **env)
    assert message == expected
    assert PASSWORD not in message


def test_a_key_without_its_certificate_is_refused(
    monkeypatch: pytest.MonkeyPatch, pem: dict[str, Path]
) -> None:
    assert _error(
        monkeypatch, kafka_security_protocol="SSL", kafka_ssl_key_file=str(pem["key"])
    ) == ("invalid setting NPO_KAFKA_SSL_KEY_FILE: set without NPO_KAFKA_SSL_CERT_FILE")


def test_an_unreadable_file_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import os

    secret = tmp_path / "ca.pem"
    secret.write_text("x")
    secret.chmod(0)
    if os.access(secret, os.R_OK):
        pytest.skip("running as a user who reads every file")
    assert _error(monkeypatch, kafka_security_protocol="SSL", kafka_ssl_ca_file=str(secret)) == (
        f"invalid setting NPO_KAFKA_SSL_CA_FILE: cannot read {secret}: Permission denied"
    )


def test_files_that_are_not_pem_certificates_are_refused(
    monkeypatch: pytest.MonkeyPatch, pem: dict[str, Path]
) -> None:
    assert _error(
        monkeypatch, kafka_security_protocol="SSL", kafka_ssl_ca_file=str(pem["garbage"])
    ).startswith(f"invalid setting NPO_KAFKA_SSL_CA_FILE: no PEM certificate in {pem['garbage']} (")
    get_settings.cache_clear()
    monkeypatch.delenv("NPO_KAFKA_SSL_CA_FILE")
    assert _error(
        monkeypatch,
        kafka_security_protocol="SSL",
        kafka_ssl_cert_file=str(pem["cert"]),
        kafka_ssl_key_file=str(pem["garbage"]),
    ).startswith("invalid setting NPO_KAFKA_SSL_CERT_FILE: no PEM certificate and unencrypted")

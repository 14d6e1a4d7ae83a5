"""Service settings, read once from ``NPO_*`` environment variables and frozen.

Each setting is declared once, here, with its default and meaning; the README's
settings table is generated from the same descriptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from npo_integration.errors import ConfigError
from npo_integration.log_format import LogFormat
from npo_integration.validation_errors import describe_validation_error

MIN_ADMIN_TOKEN_LENGTH = 32
"""A shorter admin token is refused at start: it guards candidates' personal data."""
KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
TLS_PROTOCOLS = ("SSL", "SASL_SSL")
SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")


MAX_PAGE_BYTES = 512 * 1024
"""A page's records go out in raw-records messages of at most about this size (Kafka's default
limit is 1 MB); ``NPO_PULL_SEND_BYTES`` may not exceed it. Here, beside the setting it bounds, so
that reading the settings does not load the pull path's models."""

PULL_SEND_BYTES = 128 * 1024
"""``NPO_PULL_SEND_BYTES``' default. Each message costs per message however small (a send, an
acknowledgement wait, an event to ingest): an NPO serving pages of ten records would otherwise
pay that for every ten. Bounded, so the records a pull holds unsent stay small (times
``NPO_FETCH_CONCURRENCY`` pulls)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NPO_", frozen=True, extra="ignore")

    app_id: str = Field(
        "npo-integration", description="Kafka consumer group and prefix of internal topics"
    )
    broker_url: str = Field(
        "kafka://127.0.0.1:19092", description="Kafka bootstrap, kafka://host:port[;host:port]"
    )
    kafka_security_protocol: KafkaSecurityProtocol = Field(
        "PLAINTEXT",
        description="how every Kafka client connects: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
    )
    kafka_sasl_mechanism: SaslMechanism | None = Field(
        None,
        validate_default=True,
        description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; required with SASL_*",
    )
    kafka_sasl_username: str | None = Field(
        None, validate_default=True, description="SASL user; required with SASL_*"
    )
    kafka_sasl_password: SecretStr | None = Field(
        None,
        validate_default=True,
        description="SASL password (a secret: never logged); required with SASL_*",
    )
    kafka_ssl_ca_file: Path | None = Field(
        None,
        description="PEM file of the CAs that signed the brokers' certificates (SSL, SASL_SSL); "
        "default: the system's CAs",
    )
    kafka_ssl_cert_file: Path | None = Field(
        None, description="PEM client certificate, for brokers that authenticate clients by TLS"
    )
    kafka_ssl_key_file: Path | None = Field(
        None, description="PEM private key of the client certificate, unless in the same file"
    )
    data_dir: Path = Field(Path("var/data"), description="where RocksDB tables live")
    reset_local_state_on_cluster_change: bool = Field(
        False,
        description=(
            "at start, remove the data directory's table stores when they belong to another Kafka "
            "cluster and rebuild them from the changelogs (off: the worker stops with one line "
            "and an operator runs npo-integration reset-local-state)"
        ),
    )
    web_host: str = Field(
        "127.0.0.1", description="bind address of the web server (views, admin API, metrics)"
    )
    web_port: int = Field(6066, ge=1, le=65535, description="port of the web server")
    web_canonical_url: str | None = Field(
        None,
        description="URL other workers reach this one at (table routing); default http://WEB_HOST:WEB_PORT",
    )
    topic_partitions: int = Field(
        8, ge=1, le=1024, description="partitions of every topic the service creates"
    )
    topic_replication: int = Field(
        1, ge=1, le=10, description="replication factor of topics the service creates"
    )
    table_standby_replicas: int = Field(
        0,
        ge=0,
        le=10,
        description=(
            "standby copies of each table partition kept warm on other workers, so a moved "
            "partition does not replay its whole changelog; 1 in a fleet"
        ),
    )
    rocksdb_memtable_mb: int = Field(
        64,
        ge=4,
        le=65536,
        description=(
            "memory for the write buffers of all the worker's table stores together (one RocksDB"
            " write buffer manager): past it a store that writes flushes its memtable, so memory"
            " and write-ahead logs stay bounded however many table partitions the worker holds;"
            " about 64 KB per store is taken by memtables holding little"
        ),
    )
    rocksdb_block_cache_mb: int = Field(
        64,
        ge=1,
        le=65536,
        description="read cache shared by all the worker's table stores (one RocksDB block cache)",
    )
    consumer_fetch_wait_ms: int = Field(
        500,
        ge=10,
        le=5000,
        description=(
            "longest a fetch with nothing new waits at the broker; table recovery's offset"
            " lookups queue behind it, four per rebalance (lower: faster starts and rebalances,"
            " more idle fetches)"
        ),
    )
    processing_guarantee: Literal["at_least_once", "exactly_once"] = Field(
        "at_least_once", description="Faust processing guarantee (at_least_once or exactly_once)"
    )
    secrets_keys: SecretStr = Field(
        description="comma-separated Fernet keys; the first seals, all open (rotation). Required."
    )
    admin_token: SecretStr | None = Field(
        None,
        description=(
            f"bearer token of the admin API, at least {MIN_ADMIN_TOKEN_LENGTH} characters; "
            "unset or empty disables it"
        ),
    )
    allow_private_npo_urls: bool = Field(
        False, description="allow NPO base URLs on private/loopback addresses (tests, demo)"
    )
    config_file: Path | None = Field(
        None, description="JSON file of NPO configs loaded at start (one or a list)"
    )
    scheduler_tick_seconds: float = Field(
        1.0, gt=0, le=60, description="how often due pulls are looked for"
    )
    fetch_concurrency: int = Field(
        64, ge=1, le=10_000, description="concurrent NPO pulls per worker"
    )
    pull_send_bytes: int = Field(
        PULL_SEND_BYTES,
        ge=1,
        le=MAX_PAGE_BYTES,
        description=(
            "a pull sends the pages it has read to raw-records together once they hold this many "
            "bytes of records (and the rest at its end): fewer, larger messages; a pull in "
            "flight holds at most this plus one page unsent"
        ),
    )
    http_max_connections: int = Field(
        100,
        ge=1,
        le=10_000,
        description="open connections to NPO APIs per worker, all hosts together",
    )
    http_max_connections_per_host: int = Field(
        10,
        ge=1,
        le=1000,
        description="open connections to one NPO host per worker (NPOs may share a host)",
    )
    http_max_call_timeout_seconds: float = Field(
        30.0,
        gt=0,
        le=60,
        description=(
            "cap on an NPO config's timeout_seconds (a longer one is clamped, with a warning); "
            "also bounds how long a rebalance waits for enrolment calls in flight"
        ),
    )
    http_max_retry_attempts: int = Field(
        5,
        ge=1,
        le=20,
        description="cap on an NPO config's retry.max_attempts (tries of one call, waits between)",
    )
    http_max_retry_backoff_seconds: float = Field(
        30.0,
        gt=0,
        le=600,
        description="cap on an NPO config's retry.backoff_max_seconds (longest wait between tries)",
    )
    http_max_circuit_failure_threshold: int = Field(
        20,
        ge=1,
        le=1000,
        description=(
            "cap on an NPO config's circuit_breaker.failure_threshold (failures before it opens)"
        ),
    )
    max_record_bytes: int = Field(
        768 * 1024,
        ge=1024,
        le=900_000,
        description="largest NPO record kept, as compact JSON; a larger one is dead-lettered "
        "and the pull goes on (at most 900000: a record travels in one Kafka message)",
    )
    max_record_depth: int = Field(
        64,
        ge=2,
        le=200,
        description="deepest nesting of lists and objects in an NPO record; a deeper one is "
        "dead-lettered and the pull goes on",
    )
    transform_timeout_seconds: float = Field(
        2.0,
        gt=0,
        le=60,
        description="time bound of one plug-in call; a slower call fails that record only",
    )
    transform_workers: int = Field(8, ge=1, le=256, description="threads that run plug-in calls")
    ingest_max_attempts: int = Field(
        8,
        ge=1,
        le=1000,
        description="attempts at a failing record before the re-drive timer gives up on it",
    )
    ingest_retry_backoff_seconds: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="wait before re-driving a failed record; doubles per attempt, at most 10 min",
    )
    ingest_redrive_tick_seconds: float = Field(
        5.0,
        gt=0,
        le=600,
        description="how often unprocessed records due for a re-drive are looked for",
    )
    ingest_batch_size: int = Field(
        64,
        ge=1,
        le=1000,
        description="raw-records messages (pages of records) taken together for ingestion",
    )
    ingest_redrive_batch: int = Field(
        200, ge=1, le=100_000, description="records one worker re-drives per tick at most"
    )
    state_retention_days: float = Field(
        30.0,
        ge=0,
        le=3650,
        description=(
            "how long a deactivated NPO's record states, unprocessed records, removal holds,"
            " enrolment links and pull state are kept before the state sweep deletes them"
            " (a paused NPO keeps its state; docs/operations.md#bounded-state)"
        ),
    )
    state_sweep_tick_seconds: float = Field(
        300.0,
        gt=0,
        le=86400,
        description=(
            "how often each worker looks for deactivated NPOs whose state is due to go, and for"
            " settled enrolments past their retention"
        ),
    )
    state_sweep_batch: int = Field(
        1000,
        ge=1,
        le=100_000,
        description="table entries one purge step deletes at most (the rest in further steps)",
    )
    removal_hold_share: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description=(
            "a complete sweep that would remove more than this share of a stream's published"
            " records (or answered nothing) is held for an operator"
        ),
    )
    enrolment_concurrency: int = Field(
        1000,
        ge=1,
        le=10_000,
        description=(
            "enrolments in progress at once per worker, waits for an NPO's rate limit included"
        ),
    )
    enrolment_concurrency_per_npo: int = Field(
        4,
        ge=1,
        le=1000,
        description=(
            "enrolments in progress at once per NPO and worker (a slow NPO holds only these)"
        ),
    )
    config_catch_up_seconds: float = Field(
        30.0,
        gt=0,
        le=600,
        description=(
            "how long an assignment whose NPO has no config here waits for this worker's copy of"
            " the configs to read its changelog to the end, before it fails as 'no config'"
        ),
    )
    enrolment_retry_tick_seconds: float = Field(
        1.0, gt=0, le=60, description="how often enrolments due for a retry are looked for"
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="log level")
    log_format: LogFormat = Field(
        "text",
        description="text (Faust's lines) or json: one JSON object per line with npo_id, "
        "stream, record_key, assignment_id and trace_id where they apply",
    )
    personal_data_retention_days: float = Field(
        7.0,
        gt=0,
        le=3650,
        description=(
            "retention of the topics carrying candidates' personal data, set when the service"
            " creates them (docs/security.md#personal-data)"
        ),
    )
    enrolment_retention_days: float = Field(
        90.0,
        ge=0,
        le=3650,
        description=(
            "how long a settled enrolment (final status, outcome event acknowledged, nothing due)"
            " is kept before the state sweep deletes it, whatever its NPO's state; its state is"
            " what makes a re-delivered assignment event a no-op, so it must outlive the"
            " assignments topic: at least NPO_PERSONAL_DATA_RETENTION_DAYS, or 0 (deleted at the"
            " next sweep: tests and demos only; docs/operations.md#bounded-state)"
        ),
    )
    raw_records_retention_hours: float | None = Field(
        None,
        ge=1,
        description=(
            "retention of the raw-records topic, set when the service creates it; unset: the"
            " personal-data retention (it carries NPO records), never more. Raw records older than"
            " this are gone before ingestion read them, so keep it longer than any outage"
            " (alert NpoRawRecordsNearRetention)"
        ),
    )
    erasure_compaction_hours: float = Field(
        24.0,
        gt=0,
        le=24 * 30,
        description=(
            "max.compaction.lag.ms of the changelogs holding candidates' personal data: how long"
            " an erased value may stay behind its tombstone, set when the service creates them"
        ),
    )

    topic_npo_assessed: str = Field(
        "spotlight.npo-assessed", description="in: NPO assessed (API details)"
    )
    topic_candidate_assignments: str = Field(
        "spotlight.candidate-assignments", description="in: candidate assignment created/cancelled"
    )
    topic_assignment_updated: str = Field(
        "spotlight.candidate-assignment-updated", description="out: candidate progress from an NPO"
    )
    topic_offerings: str = Field(
        "spotlight.npo-offerings", description="out: offering created/updated"
    )
    topic_config_commands: str = Field(
        "npo-integration.config-commands", description="internal: NPO config changes"
    )
    topic_fetch_requests: str = Field(
        "npo-integration.fetch-requests", description="internal: pulls to run"
    )
    topic_raw_records: str = Field(
        "npo-integration.raw-records", description="internal: records as fetched"
    )
    topic_enrolment_results: str = Field(
        "npo-integration.enrolment-results", description="internal/out: enrolment outcomes"
    )
    topic_enrolment_links: str = Field(
        "npo-integration.enrolment-links",
        description="internal: NPO enrolment id -> platform assignment",
    )
    topic_enrolment_commands: str = Field(
        "npo-integration.enrolment-commands",
        description="internal: enrolment retries, re-drives and candidate erasures",
    )
    topic_dead_letters: str = Field(
        "npo-integration.dead-letters", description="internal: what could not be handled"
    )
    topic_ingest_commands: str = Field(
        "npo-integration.ingest-commands",
        description="internal: operator commands to ingestion (re-drive an NPO)",
    )
    topic_candidate_erased: str = Field(
        "spotlight.candidate-erased",
        description="out: a candidate's personal data erased, and what was removed",
    )

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        for url in value.split(";"):
            parts = urlsplit(url.strip())
            if parts.scheme != "kafka":
                raise ValueError(f"scheme must be kafka://, got {url!r}")
            try:
                port = parts.port
            except ValueError:
                raise ValueError(f"port is not a number in {url!r}") from None
            if not parts.hostname or port is None:
                raise ValueError(f"expected kafka://host:port, got {url!r}")
        return value

    @field_validator("kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password")
    @classmethod
    def _sasl(cls, value: str | SecretStr | None, info: ValidationInfo) -> str | SecretStr | None:
        """SASL settings go with a SASL protocol, all of them, and only with one."""
        given = bool(value.get_secret_value() if isinstance(value, SecretStr) else value)
        protocol = info.data.get("kafka_security_protocol")  # absent: its own error is reported
        if protocol in SASL_PROTOCOLS and not given:
            raise ValueError(f"required when NPO_KAFKA_SECURITY_PROTOCOL is {protocol}")
        if protocol is not None and protocol not in SASL_PROTOCOLS and given:
            raise ValueError(
                f"set, but NPO_KAFKA_SECURITY_PROTOCOL is {protocol} (SASL_PLAINTEXT or SASL_SSL?)"
            )
        return value if given else None

    @field_validator("kafka_ssl_ca_file", "kafka_ssl_cert_file", "kafka_ssl_key_file")
    @classmethod
    def _tls_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        """A TLS file goes with a TLS protocol and is read at start, so a wrong path stops the
        worker here rather than at its first connection."""
        if value is None:
            return None
        protocol = info.data.get("kafka_security_protocol")
        if protocol is not None and protocol not in TLS_PROTOCOLS:
            raise ValueError(
                f"set, but NPO_KAFKA_SECURITY_PROTOCOL is {protocol} (SSL or SASL_SSL?)"
            )
        if info.field_name == "kafka_ssl_key_file" and (
            "kafka_ssl_cert_file" in info.data and info.data["kafka_ssl_cert_file"] is None
        ):
            raise ValueError("set without NPO_KAFKA_SSL_CERT_FILE")
        if not value.is_file():
            raise ValueError(f"no such file: {value}")
        try:
            with value.open("rb"):
                pass
        except OSError as exc:
            raise ValueError(f"cannot read {value}: {exc.strerror}") from None
        return value

    @field_validator("secrets_keys")
    @classmethod
    def _keys(cls, value: SecretStr) -> SecretStr:
        from npo_integration.errors import SecretError
        from npo_integration.sealing import SecretBox

        try:
            SecretBox.from_setting(value)
        except SecretError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("admin_token", mode="before")
    @classmethod
    def _admin_token(cls, value: object) -> object:
        """Empty means disabled (as unset); a set token must be long and sendable in a header."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            return value  # pydantic refuses it with its own message
        if len(value) < MIN_ADMIN_TOKEN_LENGTH:
            raise ValueError(
                f"must be at least {MIN_ADMIN_TOKEN_LENGTH} characters, got {len(value)} "
                "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        if not (value.isascii() and value.isprintable()) or any(c.isspace() for c in value):
            raise ValueError("must be printable ASCII without spaces (it is sent in a header)")
        return value

    @field_validator("enrolment_retention_days")
    @classmethod
    def _enrolment_retention(cls, value: float, info: ValidationInfo) -> float:
        """An enrolment forgotten while its assignment event can still be re-delivered would be
        enrolled again: never shorter than the assignments topic's retention (0: tests only)."""
        days = info.data.get("personal_data_retention_days")
        if value != 0 and days is not None and value < days:
            raise ValueError(
                f"{value:g} days is less than NPO_PERSONAL_DATA_RETENTION_DAYS ({days:g} days),"
                " the assignments topic's retention (0 deletes at once: tests only)"
            )
        return value

    @field_validator("raw_records_retention_hours")
    @classmethod
    def _raw_retention(cls, value: float | None, info: ValidationInfo) -> float | None:
        """Raw records carry personal data: never kept longer than the personal-data retention."""
        days = info.data.get("personal_data_retention_days")
        if value is not None and days is not None and value > days * 24:
            raise ValueError(
                f"{value:g} hours is more than NPO_PERSONAL_DATA_RETENTION_DAYS ({days:g} days)"
            )
        return value

    @property
    def raw_records_retention_seconds(self) -> float:
        """The raw-records topic's retention: its own setting, else the personal-data one."""
        hours = self.raw_records_retention_hours
        return hours * 3600.0 if hours is not None else self.personal_data_retention_days * 86400.0

    @property
    def hand_over_seconds(self) -> float:
        """How long a revocation waits for enrolment calls in flight before it cancels them:
        one call at the longest timeout allowed, plus the publish and save of its outcome."""
        return self.http_max_call_timeout_seconds + 5.0

    @property
    def bootstrap_servers(self) -> list[str]:
        return [urlsplit(u.strip()).netloc for u in self.broker_url.split(";")]


def _setting(location: Sequence[int | str]) -> str:
    return (
        f"invalid setting NPO_{str(location[0]).upper()}" if location else "invalid setting NPO_?"
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read settings once; raise ConfigError with one line naming the bad setting."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, limit=None, name=_setting)) from None

"""NPO_LOG_FORMAT=json: one JSON object per line, with the log context's fields, never a secret."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from mode.utils.logging import setup_logging
from pydantic import SecretStr

from npo_integration.log_context import current_log_context, log_context
from npo_integration.log_format import JsonFormatter, logging_config
from npo_integration.registry.config_input import read_config
from npo_integration.settings import Settings

TOKEN = "tok-SECRET-0123456789abcdef"
CLIENT_SECRET = "client-SECRET-fedcba9876543210"
ADMIN_TOKEN = "admin-SECRET-" + "a" * 32
SASL_PASSWORD = "sasl-SECRET-password"
FERNET_KEY = Fernet.generate_key().decode()


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose lines go through :class:`JsonFormatter` into a string."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("npo_integration.test_log_format")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, out
    logger.removeHandler(handler)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_line_is_one_json_object_with_the_contexts_fields(captured) -> None:
    logger, out = captured
    with log_context(npo_id="code-academy", stream="offerings", trace_id="t-1"):
        with log_context(record_key="code-academy/offerings/7"):
            logger.info("page %d of %s", 2, "offerings")
        logger.warning("multi\nline")
    logger.info("outside")
    inner, after, outside = lines(out)
    assert list(inner)[:4] == ["time", "level", "logger", "message"]
    assert inner["message"] == "page 2 of offerings" and inner["level"] == "INFO"
    assert {k: inner[k] for k in ("npo_id", "stream", "record_key", "trace_id")} == {
        "npo_id": "code-academy",
        "stream": "offerings",
        "record_key": "code-academy/offerings/7",
        "trace_id": "t-1",
    }
    assert after["message"] == "multi\nline" and "record_key" not in after
    assert after["npo_id"] == "code-academy"
    assert not {"npo_id", "stream", "trace_id", "assignment_id"} & set(outside)


def test_an_exception_is_in_the_same_line(captured) -> None:
    logger, out = captured
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    (line,) = lines(out)
    assert "ValueError: boom" in line["exc_info"]


async def test_tasks_started_inside_a_context_carry_it() -> None:
    async def seen() -> dict[str, str]:
        await asyncio.sleep(0)
        return dict(current_log_context())

    with log_context(assignment_id="asg-1"):
        task = asyncio.create_task(seen())
    assert await task == {"assignment_id": "asg-1"}
    assert current_log_context() == {}


def test_no_secret_reaches_a_line(captured) -> None:
    """A config (clear secrets, as an NPO's assessment brings them) and the settings, handed to
    log calls every way a call can take them: as %-arguments, extra=, a dict message and in an
    exception's line."""
    logger, out = captured
    document = {
        "npo_id": "code-academy",
        "display_name": "Code Academy",
        "base_url": "https://lms.example/api",
        "transform": {"kind": "plugin", "name": "simple"},
    }
    config = read_config(
        {
            **document,
            "auth": {
                "kind": "oauth2_client_credentials",
                "token_url": "https://lms.example/token",
                "client_id": "spotlight",
                "client_secret": CLIENT_SECRET,
            },
        }
    )
    bearer = read_config({**document, "auth": {"kind": "bearer", "token": TOKEN}}).sources[0]
    settings = Settings(
        secrets_keys=SecretStr(FERNET_KEY),
        admin_token=SecretStr(ADMIN_TOKEN),
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="svc",
        kafka_sasl_password=SecretStr(SASL_PASSWORD),
    )
    with log_context(npo_id=config.npo_id):
        logger.info("configs %s %r / %s", config, bearer, settings)
        logger.info("stored", extra={"config": config, "auth": bearer.auth, "settings": settings})
        logger.info({"config": config, "auth": bearer.auth, "settings": settings})
        try:
            raise RuntimeError(f"call failed with {bearer.auth}")
        except RuntimeError:
            logger.exception("with %s", settings)
    text = out.getvalue()
    assert len(lines(out)) == 4
    for secret in (TOKEN, CLIENT_SECRET, ADMIN_TOKEN, SASL_PASSWORD, FERNET_KEY):
        assert secret not in text
    assert lines(out)[1]["config"] == "<NpoIntegrationConfig>"


def test_the_worker_logs_json_lines_with_the_json_setting() -> None:
    """What Faust's worker does with the app's ``logging_config`` (mode's ``setup_logging``)."""
    assert logging_config("text") is None
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    out = io.StringIO()
    try:
        setup_logging(loglevel="info", logfile=None, logging_config=logging_config("json"))
        for handler in root.handlers:
            handler.setStream(out)  # type: ignore[attr-defined]
        with log_context(npo_id="code-academy"):
            logging.getLogger("npo_integration.anything").info("hello %s", "world")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    (line,) = lines(out)
    assert line["message"] == "hello world" and line["npo_id"] == "code-academy"

"""No secret in clear anywhere observable: credentials offered as headers or parameters, the
redacted placeholder sent back, and malformed input carrying secrets and personal data.

Each secret is a unique string. After every way in has been tried (admin API, CLI, the
platform's two topics), the test reads everything an outsider or an operator could: every
topic the service writes (a plain consumer), the worker's log, the admin API's answers and
views, the CLI's output and the files of the worker's tables, and finds none of them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

from tests.integration.conftest import Deployment, Stack
from tests.integration.support.admin import admin
from tests.integration.support.kafka import produce, read_all
from tests.integration.support.polling import eventually
from tests.integration.support.processes import SandboxProcess
from tests.integration.test_registry import npo_config, run_cli
from tests.integration.test_registry_durability import (
    authorized_pulls,
    deployment_topics,
    files_under,
)


def secret(name: str) -> str:
    return f"leak-{name}-{uuid.uuid4().hex}"


async def letters_for(deployment: Deployment, keys: set[str]) -> dict[str, dict] | None:
    found = {
        m.value["key"]: m.value
        for m in await read_all(deployment.topics["dead_letters"])
        if m.value.get("key") in keys
    }
    return found if found.keys() == keys else None


async def test_header_and_param_secrets_and_malformed_input_are_nowhere_in_clear(
    sandbox: SandboxProcess, deployment: Deployment, tmp_path: Path
) -> None:
    secrets = {
        name: secret(name)
        for name in (
            "auth",
            "api-header",
            "api-param",
            "cli-header",
            "topic-header",
            "malformed",
            "wrong-schema",
            "assignment",
        )
    }
    await sandbox.add_npo(
        "leak-ok", flavour="simple", auth={"kind": "bearer", "token": secrets["auth"]}, offerings=2
    )
    worker = await deployment.start_worker()
    url, token = worker.url, deployment.admin_token
    answers: list[Any] = []

    async def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, answer = await admin(url, token, method, path, body)
        answers.append(answer)
        return status, answer

    # A good config: its bearer token is sealed and used.
    good = npo_config("leak-ok", sandbox.npo_url("leak-ok"), token=secrets["auth"])
    assert (await call("PUT", "/admin/npos/leak-ok?wait=true", good))[0] == 200
    await eventually(lambda: authorized_pulls(sandbox, "leak-ok"), timeout=20, what="a pull")

    # Credentials as a header or a literal parameter: refused, pointing at the auth kind.
    with_header = {**good, "headers": {"X-Api-Key": secrets["api-header"]}}
    status, answer = await call("PUT", "/admin/npos/leak-ok", with_header)
    assert status == 422 and '"kind": "api_key_header", "header": "X-Api-Key"' in answer["error"]
    with_param = {**good}
    with_param["streams"] = {
        "offerings": {**good["streams"]["offerings"], "params": {"wstoken": secrets["api-param"]}}
    }
    status, answer = await call("PUT", "/admin/npos/leak-ok", with_param)
    assert status == 422 and '"kind": "api_key_query", "param": "wstoken"' in answer["error"]

    # The config read back (secrets as ***) and sent again does not overwrite the token.
    _, shown = await call("GET", "/admin/npos/leak-ok")
    status, answer = await call("PUT", "/admin/npos/leak-ok", shown["config"])
    assert status == 422 and "placeholder a redacted view shows" in answer["error"]

    # The CLI, from a file: refused the same way.
    path = tmp_path / "cli-npo.json"
    path.write_text(
        json.dumps({**good, "headers": {"Authorization": f"Bearer {secrets['cli-header']}"}})
    )
    stack = Stack(sandbox, deployment, worker)
    added = await asyncio.to_thread(run_cli, stack, "npos", "add", str(path))
    assert added.returncode == 1 and '"kind": "bearer"' in added.stderr
    cli_output = added.stdout + added.stderr

    # The platform's topics: a refused config, malformed JSON, JSON of the wrong shape.
    assessed = deployment.topics["npo_assessed"]
    refused = {**good, "npo_id": "leak-topic", "headers": {"X-Auth-Token": secrets["topic-header"]}}
    await produce(
        assessed,
        "leak-topic",
        {"event_type": "npo.assessed", "npo_id": "leak-topic", "integration": refused},
    )
    malformed = (
        b'{"npo_id": "leak-bad", "integration": {"auth": {"kind": "bearer", "token": "'
        + secrets["malformed"].encode()
    )
    await produce(assessed, "leak-bad", malformed)
    wrong_schema = {
        "npo_id": "leak-shape",
        "integration": {"auth": {"kind": "token", "value": secrets["wrong-schema"]}},
    }
    await produce(assessed, "leak-shape", wrong_schema)
    assignment = (
        b'{"event_type": "candidate_assignment.created", "assignment_id": "leak-asg", '
        b'"candidate": {"email": "' + secrets["assignment"].encode() + b'@example.org"'
    )
    await produce(deployment.topics["candidate_assignments"], "leak-asg", assignment)

    letters = await eventually(
        lambda: letters_for(deployment, {"leak-topic", "leak-bad", "leak-shape", "leak-asg"}),
        timeout=20,
        what="four dead letters",
    )
    topic_letter = letters["leak-topic"]
    assert topic_letter["npo_id"] == "leak-topic" and "api_key_header" in topic_letter["reason"]
    # Shown as the registry shows configs: a one-system config as its source main.
    [main] = topic_letter["payload"]["integration"]["sources"]
    assert main["headers"] == {"X-Auth-Token": "***"}
    for key, raw in (
        ("leak-bad", malformed),
        ("leak-shape", json.dumps(wrong_schema).encode()),
        ("leak-asg", assignment),
    ):
        assert letters[key]["reason"]
        assert letters[key]["payload"]["length"] == len(raw)
        assert letters[key]["payload"]["sha256"] == hashlib.sha256(raw).hexdigest()
    assert letters["leak-bad"]["payload"]["prefix"].startswith('{"npo_id": "***", "integration"')

    # The agents live on: a good assessed NPO after the bad messages is stored.
    after = {**good, "npo_id": "leak-after"}
    await produce(
        assessed,
        "leak-after",
        {"event_type": "npo.assessed", "npo_id": "leak-after", "integration": after},
    )

    async def stored() -> bool:
        status, _ = await admin(url, token, "GET", "/admin/npos/leak-after")
        return status == 200

    await eventually(stored, timeout=20, what="leak-after stored")
    # The token was not overwritten with stars: version 1 still, and it still signs pulls.
    _, versions = await call("GET", "/admin/npos/leak-ok/versions")
    assert [v["version"] for v in versions["versions"]] == [1]
    before = await authorized_pulls(sandbox, "leak-ok")
    assert (await call("POST", "/admin/npos/leak-ok/fetch"))[0] == 202
    await eventually(
        lambda: _more_than(sandbox, "leak-ok", before), timeout=20, what="another pull"
    )

    # The tables' views.
    for path_ in (
        "/admin/npos",
        "/admin/npos/leak-ok",
        "/admin/npos/leak-after/versions",
        "/admin/npos/leak-ok/pulls",
        "/admin/npos/leak-ok/records",
        "/admin/npos/leak-ok/enrolments",
    ):
        await call("GET", path_)
    worker.stop()

    haystacks: list[tuple[str, bytes]] = [(worker.log_path.name, worker.log_path.read_bytes())]
    written_by_us = {deployment.topics["candidate_assignments"]}  # the platform's, as sent
    for topic in set(await deployment_topics(deployment)) - written_by_us:
        for message in await read_all(topic):
            haystacks.append((topic, json.dumps(message.value).encode()))
    haystacks += [("admin API", json.dumps(answers).encode()), ("cli", cli_output.encode())]
    haystacks += [
        (str(p), p.read_bytes())
        for p in files_under(tmp_path)
        if p.suffix != ".json" and "sandbox" not in p.name
    ]
    assert any(name.endswith("dead-letters") for name, _ in haystacks)
    for name, value in secrets.items():
        leaks = [where for where, data in haystacks if value.encode() in data]
        assert leaks == [], f"the {name} secret is in clear in {leaks}"


async def _more_than(sandbox: SandboxProcess, npo_id: str, count: int) -> bool:
    return await authorized_pulls(sandbox, npo_id) > count

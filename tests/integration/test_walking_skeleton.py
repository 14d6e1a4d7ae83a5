"""The thin path end to end: NPO config file -> timer -> pull -> transform -> offerings topic."""

from __future__ import annotations

from tests.integration.conftest import Deployment
from tests.integration.support.kafka import read_all
from tests.integration.support.polling import eventually
from tests.integration.support.processes import SandboxProcess
from tests.integration.test_registry import npo_config


async def test_offerings_of_a_configured_npo_reach_the_offerings_topic(
    sandbox: SandboxProcess, deployment: Deployment
) -> None:
    await sandbox.add_npo(
        "skel", flavour="simple", auth={"kind": "bearer", "token": "skel-token"}, offerings=7
    )
    deployment.write_configs(
        [npo_config("skel", sandbox.npo_url("skel"), token="skel-token", page_size=3)]
    )
    await deployment.start_worker()

    topic = deployment.topics["offerings"]

    async def seven_offerings() -> list:
        messages = await read_all(topic)
        return messages if len(messages) >= 7 else []

    messages = await eventually(seven_offerings, timeout=60, what="7 offering events")

    expected = await sandbox.call(
        "GET",
        "/npos/skel/api/offerings?page=1&per_page=100",
        headers={"Authorization": "Bearer skel-token"},
    )
    titles = {o["id"]: o["title"] for o in expected["data"]}
    assert len(messages) == 7
    for message in messages:
        event = message.value
        assert event["event_type"] == "npo_offering.created"
        assert event["npo_id"] == "skel"
        assert event["event_id"] and event["occurred_at"]
        ref = event["offering"]["npo_offering_ref"]
        assert message.key == f"skel/{ref}"
        assert event["offering"]["title"] == titles[ref]
        assert "<" not in event["offering"]["description"]
    assert {m.value["offering"]["npo_offering_ref"] for m in messages} == set(titles)

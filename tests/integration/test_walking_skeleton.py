"""The thin path end to end: NPO config file -> timer -> pull -> transform -> offerings topic."""

from __future__ import annotations

from tests.integration.conftest import Deployment
from tests.integration.support.kafka import read_all
from tests.integration.support.polling import eventually
from tests.integration.support.processes import SandboxProcess


def simple_npo_config(npo_id: str, base_url: str, token: str) -> dict:
    return {
        "npo_id": npo_id,
        "display_name": "Skeleton Academy",
        "base_url": base_url,
        "auth": {"kind": "bearer", "token": token},
        "streams": {
            "offerings": {
                "path": "/api/offerings",
                "records_path": "data",
                "pagination": {"style": "page_number", "page_size": 3},
                "schedule_seconds": 300,
            }
        },
        "transform": {"kind": "plugin", "name": "simple"},
    }


async def test_offerings_of_a_configured_npo_reach_the_offerings_topic(
    sandbox: SandboxProcess, deployment: Deployment
) -> None:
    await sandbox.add_npo("skel", flavour="simple", auth={"kind": "bearer", "token": "skel-token"}, offerings=7)
    deployment.write_configs([simple_npo_config("skel", sandbox.npo_url("skel"), "skel-token")])
    await deployment.start_worker()

    topic = deployment.topics["offerings"]

    async def seven_offerings() -> list:
        messages = await read_all(topic)
        return messages if len(messages) >= 7 else []

    messages = await eventually(seven_offerings, timeout=60, what="7 offering events")

    expected = await sandbox.call(
        "GET", "/npos/skel/api/offerings?page=1&per_page=100", headers={"Authorization": "Bearer skel-token"}
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

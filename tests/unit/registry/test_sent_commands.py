"""Commands a worker sent are applied from the object it sent, once; anything else is decoded."""

from npo_integration.models.codec import decode, encode
from npo_integration.models.internal import ConfigCommand
from npo_integration.registry.submit import SentCommands, deactivate_command


def test_a_sent_command_is_taken_once_and_equals_its_decoded_bytes() -> None:
    sent = SentCommands()
    command = deactivate_command("npo-a", "admin-api")
    value = encode(command)
    sent.remember(value, command)
    taken = sent.take(value)
    assert taken == decode(ConfigCommand, value)
    assert sent.take(value) is None  # a redelivery is decoded like any other message


def test_only_the_latest_sends_are_kept() -> None:
    sent = SentCommands(size=2)
    values = []
    for n in range(3):
        command = deactivate_command(f"npo-{n}", "admin-api")
        values.append(encode(command))
        sent.remember(values[-1], command)
    assert sent.take(values[0]) is None
    assert [c.npo_id for c in map(sent.take, values[1:]) if c] == ["npo-1", "npo-2"]

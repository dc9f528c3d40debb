"""The JetStream ack subject read by the NATS source agrees with nats-py's own reading of it."""

from __future__ import annotations

import pytest
from nats.aio.msg import Msg
from nats.errors import NotJSMessageError

from batchmap.sources.nats._source import ack_reply_fields

SUBJECTS = [  # subject, its publish time in ns
    ("$JS.ACK.ORDERS.batchmap.3.1024.17.1732640000123456789.99", 1732640000123456789),  # without domain
    ("$JS.ACK.hub.ACCOUNTHASH.ORDERS.batchmap.1.7.7.1732640000000000001.0.rAnD0m", 1732640000000000001),
    ("$JS.ACK._.ACCOUNTHASH.ORDERS.batchmap.12.70.9.1732640000999999999.5", 1732640000999999999),  # 11 tokens
]


@pytest.mark.parametrize(("reply", "sent_ns"), SUBJECTS)
def test_fields_match_nats_py_metadata(reply: str, sent_ns: int) -> None:
    msg = Msg(None, subject="orders.new", reply=reply, data=b"{}")
    meta = msg.metadata
    assert ack_reply_fields(msg) == (meta.num_delivered, meta.sequence.stream, meta.sequence.consumer, sent_ns)
    assert abs(sent_ns / 1e9 - meta.timestamp.timestamp()) < 1e-6


def test_a_message_that_is_not_jetstreams_is_refused() -> None:
    with pytest.raises(NotJSMessageError):
        ack_reply_fields(Msg(None, subject="orders.new", reply="_INBOX.abc", data=b"{}"))

"""Version rules, dispatching and client preparation of the bus, without any transport."""

from __future__ import annotations

import json
from typing import Any

import pytest

from overcast.bus import NoSuchMethod, RPCClient, RPCServer, Target, get_transport, version_is_compatible
from overcast.bus.dispatcher import Dispatcher
from overcast.context import RequestContext
from overcast.errors import UnsupportedVersion


@pytest.mark.parametrize(
    ("served", "requested", "compatible"),
    [
        ("1.3", "1.3", True),
        ("1.3", "1.0", True),
        ("1.3", "1", True),
        ("1.3", "1.4", False),
        ("1.3", "2.0", False),
        ("2.0", "1.9", False),
        ("1.10", "1.9", True),
        ("1.9", "1.10", False),
    ],
)
def test_version_compatibility(served: str, requested: str, compatible: bool) -> None:
    assert version_is_compatible(served, requested) is compatible


def test_malformed_version_is_unsupported() -> None:
    with pytest.raises(UnsupportedVersion, match="Malformed"):
        version_is_compatible("1.0", "one.two")


class Old:
    RPC_API_VERSION = "1.1"

    def shared(self, ctxt: RequestContext) -> str:
        return "old"


class New:
    RPC_API_VERSION = "2.0"

    def shared(self, ctxt: RequestContext) -> str:
        return "new"

    def only_new(self, ctxt: RequestContext, value: int) -> int:
        return value * 2


def test_dispatch_picks_the_endpoint_serving_the_version() -> None:
    dispatcher = Dispatcher([Old(), New()])
    ctxt = RequestContext()
    assert dispatcher.dispatch(ctxt, "shared", {}, "1.0") == "old"
    assert dispatcher.dispatch(ctxt, "shared", {}, "2.0") == "new"
    assert dispatcher.dispatch(ctxt, "only_new", {"value": 21}, "2.0") == 42
    with pytest.raises(UnsupportedVersion, match="only_new"):
        dispatcher.dispatch(ctxt, "only_new", {"value": 1}, "1.1")
    with pytest.raises(NoSuchMethod):
        dispatcher.dispatch(ctxt, "__init__", {}, "2.0")


def test_prepare_changes_only_what_it_is_given() -> None:
    transport = get_transport("inproc://prepare")
    try:
        client = RPCClient(transport, Target(topic="compute"), version="1.2", timeout=30)
        to_host = client.prepare(host="node-1", timeout=5)
        assert (to_host.target, to_host.version, to_host.timeout) == (
            Target(topic="compute", host="node-1"),
            "1.2",
            5,
        )
        back_to_any = to_host.prepare(host=None, version="1.1")
        assert (back_to_any.target.host, back_to_any.version, back_to_any.timeout) == (None, "1.1", 5)
        assert client.prepare(fanout=True).target == Target(topic="compute", fanout=True)
        assert client.target.host is None  # prepare never mutates the original
        assert client.can_send_version("1.1") and client.can_send_version("1.2")
        assert not client.can_send_version("1.3") and not client.can_send_version("2.0")
    finally:
        transport.close()


def test_server_drops_malformed_messages_and_encodes_failures() -> None:
    class Endpoint:
        RPC_API_VERSION = "1.0"

        def explode(self, ctxt: RequestContext) -> Any:
            raise KeyError("missing")

    server = RPCServer(get_transport("inproc://unused"), Target(topic="t"), [Endpoint()])
    assert server.handle("not json") is None
    assert server.handle(json.dumps({"args": {}})) is None  # no method
    request = {
        "context": {},
        "method": "explode",
        "args": {},
        "version": "1.0",
        "msg_id": "m-1",
        "reply_to": "r",
    }
    reply = server.handle(json.dumps(request))
    assert reply is not None and (reply.msg_id, reply.reply_to) == ("m-1", "r")
    assert json.loads(reply.body) == {"error": {"type": "KeyError", "message": "'missing'", "details": {}}}
    assert server.handle(json.dumps({**request, "msg_id": None})) is None  # a cast gets no reply


def test_unknown_transport_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported message bus URL"):
        get_transport("kafka://broker:9092")

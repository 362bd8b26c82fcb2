"""RPC client and server on top of any transport.

A request is JSON ``{"context", "method", "args", "version", "msg_id", "reply_to"}``; a reply is JSON
``{"result": ...}`` or ``{"error": errors.serialize_error(exc)}`` so the caller re-raises the same type.
"""

from __future__ import annotations

import enum
import itertools
import json
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

from overcast.bus.dispatcher import Dispatcher, version_is_compatible
from overcast.bus.target import Target
from overcast.bus.transport import Listener, ListeningServer, Reply, Transport
from overcast.context import RequestContext
from overcast.errors import (
    BadRequest,
    MessagingTimeout,
    OvercastError,
    deserialize_error,
    serialize_error,
)
from overcast.log import request_id_var
from overcast.metrics import observe_rpc_call

LOG = logging.getLogger(__name__)


class _Unset(enum.Enum):
    UNSET = enum.auto()


UNSET = _Unset.UNSET

# msg_ids only need to be unique per process while a call waits; a counter is cheaper than uuid4.
_msg_prefix = uuid.uuid4().hex[:12]
_msg_counter = itertools.count()


def _next_msg_id() -> str:
    return f"{_msg_prefix}.{next(_msg_counter)}"


class RPCClient:
    def __init__(
        self, transport: Transport, target: Target, version: str = "1.0", timeout: float = 60.0
    ) -> None:
        self.transport = transport
        self.target = target
        self.version = version
        self.timeout = timeout

    def prepare(
        self,
        *,
        host: str | _Unset | None = UNSET,
        fanout: bool | _Unset = UNSET,
        version: str | _Unset | None = UNSET,
        timeout: float | _Unset | None = UNSET,
    ) -> RPCClient:
        """A copy of this client aimed elsewhere; ``host=None`` means any server of the topic again."""
        target = Target(
            topic=self.target.topic,
            host=self.target.host if isinstance(host, _Unset) else host,
            fanout=self.target.fanout if isinstance(fanout, _Unset) else fanout,
            version=self.target.version,
        )
        new_version = self.version if isinstance(version, _Unset) or version is None else version
        new_timeout = self.timeout if isinstance(timeout, _Unset) or timeout is None else timeout
        return RPCClient(self.transport, target, version=new_version, timeout=new_timeout)

    def can_send_version(self, version: str) -> bool:
        """Whether the version this client was pinned to allows sending a message of ``version``."""
        return version_is_compatible(self.version, version)

    def call(self, ctxt: RequestContext, method: str, **kwargs: Any) -> Any:
        if self.target.fanout:
            raise BadRequest(f"RPC call of {method} cannot fan out; use cast.")
        msg_id = _next_msg_id()
        body = self._encode(ctxt, method, kwargs, msg_id, self.transport.reply_to)
        started = time.monotonic()
        try:
            reply = self.transport.call(self.target, body, msg_id, self.timeout)
        finally:
            observe_rpc_call(self.target.topic, method, time.monotonic() - started)
        if reply is None:
            raise MessagingTimeout(
                f"Call to {method} timed out waiting for a reply from {self.target.describe()} "
                f"after {self.timeout:g} s."
            )
        data = json.loads(reply)
        if "error" in data:
            raise deserialize_error(data["error"])
        return data.get("result")

    def cast(self, ctxt: RequestContext, method: str, **kwargs: Any) -> None:
        self.transport.cast(self.target, self._encode(ctxt, method, kwargs, None, None))

    def _encode(
        self,
        ctxt: RequestContext,
        method: str,
        args: dict[str, Any],
        msg_id: str | None,
        reply_to: str | None,
    ) -> str:
        message = {
            "context": ctxt.to_dict(),
            "method": method,
            "args": args,
            "version": self.version,
            "msg_id": msg_id,
            "reply_to": reply_to,
        }
        try:
            return json.dumps(message)
        except (TypeError, ValueError) as exc:
            raise BadRequest(f"Arguments of RPC method {method} are not JSON serializable: {exc}") from exc


class RPCServer(ListeningServer):
    """Serves ``endpoints`` on ``target.topic`` (shared queue), ``topic.host`` and the topic's fanout."""

    def __init__(
        self, transport: Transport, target: Target, endpoints: Sequence[object], executor_threads: int = 8
    ) -> None:
        self.transport = transport
        self.target = target
        self.dispatcher = Dispatcher(endpoints)
        self.executor_threads = executor_threads

    def _listen(self) -> Listener:
        return self.transport.listen(self.target, self.handle, self.executor_threads)

    def handle(self, body: str) -> Reply | None:
        """Decode, dispatch and encode the reply of one message (transports call this on a worker)."""
        try:
            message = json.loads(body)
            ctxt = RequestContext.from_dict(message.get("context") or {})
            method = str(message["method"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            LOG.error("Dropping malformed RPC message on topic %s: %s", self.target.topic, exc)
            return None
        msg_id, reply_to = message.get("msg_id"), message.get("reply_to")
        args, version = message.get("args") or {}, str(message.get("version") or "1.0")
        # Log lines written while handling carry the request id of the API request that caused them.
        request_id_token = request_id_var.set(ctxt.request_id)
        try:
            reply: dict[str, Any] = {"result": self.dispatcher.dispatch(ctxt, method, args, version)}
        except Exception as exc:
            self._log_failure(ctxt, method, exc, expects_reply=bool(msg_id))
            reply = {"error": serialize_error(exc)}
        finally:
            request_id_var.reset(request_id_token)
        if not msg_id or not reply_to:
            return None
        return Reply(reply_to=reply_to, msg_id=msg_id, body=_encode_reply(reply, method))

    def _log_failure(self, ctxt: RequestContext, method: str, exc: Exception, *, expects_reply: bool) -> None:
        if isinstance(exc, OvercastError):
            # Expected errors travel back to the caller; a cast has nobody to tell, so log it louder.
            level = logging.DEBUG if expects_reply else logging.WARNING
            LOG.log(level, "[%s] RPC %s on %s failed: %r", ctxt.request_id, method, self.target.topic, exc)
        else:
            LOG.exception("[%s] RPC %s on %s raised", ctxt.request_id, method, self.target.topic)


def _encode_reply(reply: dict[str, Any], method: str) -> str:
    try:
        return json.dumps(reply)
    except (TypeError, ValueError) as exc:
        if "error" in reply:
            # The error's details are not JSON; its type and message still are.
            return json.dumps({"error": {**reply["error"], "details": {}}}, default=str)
        failure = TypeError(f"result of RPC method {method} is not JSON serializable: {exc}")
        return json.dumps({"error": serialize_error(failure)})

from overcast import errors
from overcast.context import RequestContext


def test_error_body_has_openstack_shape() -> None:
    body = errors.NotFound("Instance abc could not be found.").to_body()
    assert body == {"itemNotFound": {"code": 404, "message": "Instance abc could not be found."}}
    assert errors.QuotaExceeded().to_body()["forbidden"]["code"] == 403
    assert errors.RequestTooLarge().status == 413


def test_errors_round_trip_by_type() -> None:
    sent = errors.Conflict("Cannot 'pause' instance while it is in vm_state stopped", uuid="x")
    received = errors.deserialize_error(errors.serialize_error(sent))
    assert type(received) is errors.Conflict
    assert received.message == sent.message
    assert received.details == {"uuid": "x"}


def test_foreign_exception_becomes_remote_error() -> None:
    received = errors.deserialize_error(errors.serialize_error(ZeroDivisionError("division by zero")))
    assert isinstance(received, errors.RemoteError)
    assert received.exc_type == "ZeroDivisionError"
    assert "division by zero" in received.message


def test_context_round_trips_without_token() -> None:
    ctxt = RequestContext(user_id="u", project_id="p", roles=("member",), auth_token="secret")
    data = ctxt.to_dict()
    assert "auth_token" not in data
    back = RequestContext.from_dict({**data, "unknown_field": 1})
    assert back.roles == ("member",)
    assert back.request_id == ctxt.request_id
    assert back.auth_token is None

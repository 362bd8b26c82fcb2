"""JSON-patch documents in v2.0's form (application/openstack-images-v2.0-json-patch)."""

from __future__ import annotations

import pytest

from overcast import errors
from overcast.image.patch import apply, from_v2_0


def test_v2_0_operations_name_their_op_as_their_key() -> None:
    operations = from_v2_0([
        {"replace": "/name", "value": "new"}, {"add": "/os_distro", "value": "debian"}, {"remove": "/old"},
    ])  # fmt: skip
    assert operations == [
        {"op": "replace", "path": "/name", "value": "new"},
        {"op": "add", "path": "/os_distro", "value": "debian"},
        {"op": "remove", "path": "/old"},
    ]
    changes = apply(operations, {"name": "old-name"}, {"old": "x"}, [])
    assert (changes.core, changes.properties) == ({"name": "new"}, {"os_distro": "debian"})


@pytest.mark.parametrize(
    "operation",
    [{"op": "replace", "path": "/name", "value": "x"}, {"replace": "/name", "add": "/x", "value": "y"}, {}],
)
def test_v2_0_refuses_what_names_no_single_op(operation: dict[str, str]) -> None:
    with pytest.raises(errors.BadRequest):
        from_v2_0([operation])


def test_what_is_no_list_is_left_to_apply_to_refuse() -> None:
    with pytest.raises(errors.BadRequest):
        apply(from_v2_0({"replace": "/name"}), {}, {}, [])

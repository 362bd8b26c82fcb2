from __future__ import annotations

import pytest

from overcast.dashboard.client import APIError
from overcast.dashboard.pages.volumes import create_body, volume_actions_for
from overcast.dashboard.web import Form


def names(status: str) -> set[str]:
    return {action.name for action in volume_actions_for({"status": status})}


def test_each_status_offers_what_cinder_allows() -> None:
    assert names("available") == {"attach", "extend", "snapshot", "backup", "delete"}
    assert names("in-use") == {"detach", "extend", "snapshot", "backup"}
    assert names("error") == {"delete"}
    assert names("creating") == set()


def test_a_volume_comes_from_nothing_an_image_or_a_snapshot() -> None:
    assert create_body(Form({"name": ["a"], "size": ["2"], "source": [""]})) == {
        "volume": {"name": "a", "size": 2}
    }
    from_image = create_body(
        Form({"name": ["b"], "size": ["1"], "source": ["image:i1"], "volume_type": ["fast"]})
    )
    assert from_image["volume"]["imageRef"] == "i1" and from_image["volume"]["volume_type"] == "fast"
    from_snapshot = create_body(Form({"name": ["c"], "size": ["1"], "source": ["snapshot:s1"]}))
    assert from_snapshot["volume"]["snapshot_id"] == "s1"


@pytest.mark.parametrize("size", ["", "-1", "1.5", "٣"])
def test_a_size_that_is_not_a_whole_number_is_a_400(size: str) -> None:
    with pytest.raises(APIError) as refused:
        create_body(Form({"name": ["a"], "size": [size]}))
    assert refused.value.status == 400

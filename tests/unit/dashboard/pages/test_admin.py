from __future__ import annotations

import pytest

from overcast.dashboard.client import APIError
from overcast.dashboard.pages.admin import flavor_request, hypervisor_bars
from overcast.dashboard.web import Form


def form(**fields: str) -> Form:
    base = {"name": "f", "vcpus": "2", "ram": "1024", "disk": "5"}
    return Form({key: [value] for key, value in {**base, **fields}.items()})


def test_a_public_flavor_is_given_to_no_project() -> None:
    body, specs, projects = flavor_request(form(public="on", projects="p1", extra_specs="a=1\n\n b = 2 "))
    assert body == {
        "flavor": {"name": "f", "vcpus": 2, "ram": 1024, "disk": 5, "os-flavor-access:is_public": True}
    }
    assert specs == {"a": "1", "b": "2"} and projects == []


def test_a_private_flavor_names_its_projects() -> None:
    body, _, projects = flavor_request(form(projects="p1\n p2 \n"))
    assert body["flavor"]["os-flavor-access:is_public"] is False and projects == ["p1", "p2"]


@pytest.mark.parametrize("fields", [{"ram": "1e3"}, {"disk": ""}, {"extra_specs": "novalue"}])
def test_bad_flavor_forms_are_400s(fields: dict[str, str]) -> None:
    with pytest.raises(APIError) as refused:
        flavor_request(form(**fields))
    assert refused.value.status == 400


def test_hypervisor_bars_are_its_use_of_each_resource() -> None:
    bars = hypervisor_bars(
        {
            "vcpus": 8,
            "vcpus_used": 2,
            "memory_mb": 4096,
            "memory_mb_used": 4096,
            "local_gb": 100,
            "local_gb_used": 0,
        }
    )
    assert [(bar.label, bar.percent) for bar in bars] == [("vCPUs", 25), ("RAM", 100), ("Disk", 0)]

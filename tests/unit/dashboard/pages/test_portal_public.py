from __future__ import annotations

import pytest

from overcast.dashboard.pages.portal_admin import FormError, plan_from
from overcast.dashboard.pages.portal_public import portal_url
from overcast.dashboard.web import Form


@pytest.mark.parametrize(
    "auth_url",
    [
        "http://c.example:5000/identity",
        "http://c.example:5000/identity/",
        "http://c.example:5000/identity/v3",
    ],
)
def test_the_portal_sits_beside_the_identity_api(auth_url: str) -> None:
    assert portal_url(auth_url) == "http://c.example:5000/portal/v1"


def test_the_plan_form_becomes_a_plan_body() -> None:
    form = Form({"description": ["Small"], "quota_instances": ["3"], "quota_ram": [""], "mode": ["prepaid"],
                 "credit_limit": [""], "trial_credit": ["5.00"], "default": ["on"]})  # fmt: skip
    assert plan_from(form) == {
        "description": "Small", "quotas": {"instances": 3}, "mode": "prepaid", "default": True,
        "trial_credit": "5.00",
    }  # fmt: skip


def test_a_quota_that_is_not_a_number_is_named() -> None:
    with pytest.raises(FormError, match="RAM \\(MiB\\) must be a whole number"):
        plan_from(Form({"quota_ram": ["lots"]}))

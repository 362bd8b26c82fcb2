from __future__ import annotations

from overcast.dashboard.pages.project import QuotaBar


def test_bars_show_the_share_used_capped_at_full() -> None:
    assert QuotaBar("Instances", 3, 10).percent == 30
    assert QuotaBar("Instances", 12, 10).percent == 100
    assert QuotaBar("RAM", 1, 3).percent == 33


def test_unlimited_and_zero_limits() -> None:
    unlimited = QuotaBar("vCPUs", 40, -1)
    assert unlimited.percent == 0 and unlimited.limit_text == "unlimited"
    assert QuotaBar("Volumes", 0, 0).percent == 0
    assert QuotaBar("Volumes", 1, 0).percent == 100
    assert QuotaBar("RAM", 5, 51200, " MiB").limit_text == "51,200 MiB"

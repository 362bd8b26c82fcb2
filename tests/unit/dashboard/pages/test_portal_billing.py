from __future__ import annotations

from decimal import Decimal

from overcast.dashboard.pages.portal_billing import BAR_WIDTH, chart


def _line(metric: str, resource: str, amount: str, quantity: str, unit: str = "hour") -> dict[str, str]:
    return {"metric": metric, "resource_id": resource, "resource_type": "instance", "amount": amount,
            "quantity": quantity, "unit": unit}  # fmt: skip


def test_lines_are_summed_per_key_largest_first_the_top_bar_full_width() -> None:
    lines = [
        _line("instance.running", "a", "1.20", "1"),
        _line("instance.running", "b", "3.60", "3"),
        _line("volume.size", "v", "0.40", "40", "GiB-hour"),
    ]
    bars = chart(lines, lambda line: line["metric"])
    assert [(bar.label, bar.amount, bar.width) for bar in bars] == [
        ("instance.running", Decimal("4.80"), BAR_WIDTH),
        ("volume.size", Decimal("0.40"), round(BAR_WIDTH * Decimal("0.40") / Decimal("4.80"))),
    ]
    assert bars[0].quantity_text == "4 hour"


def test_a_resource_with_several_units_shows_no_unit() -> None:
    lines = [_line("cpu", "a", "1", "2", "vcpu-hour"), _line("ram", "a", "1", "512", "MiB-hour")]
    (bar,) = chart(lines, lambda line: line["resource_id"])
    assert bar.unit == "" and bar.quantity_text == "514"


def test_free_usage_draws_no_bars_and_nothing_is_no_chart() -> None:
    assert [bar.width for bar in chart([_line("m", "a", "0", "5")], lambda line: line["metric"])] == [0]
    assert chart([], lambda line: line["metric"]) == []

"""Host filters, one small class each; `FILTERS` maps each class name to its class."""

from overcast.scheduler.filters import (  # noqa: F401  (each module registers its filters)
    affinity,
    aggregates,
    compute,
    devices,
    image,
    json_filter,
    resources,
    traits,
)
from overcast.scheduler.filters.base import FILTERS, BaseFilter

__all__ = ["FILTERS", "BaseFilter"]

"""The filter interface: each filter keeps the hosts that can take the request, as a vector mask."""

from __future__ import annotations

from typing import ClassVar

from overcast.config import SchedulerSettings
from overcast.scheduler.host_state import HostStateTable, Indices, Mask
from overcast.scheduler.request_spec import RequestSpec

FILTERS: dict[str, type[BaseFilter]] = {}


class BaseFilter:
    """One rule. `passes` answers for the hosts `idx` at once; `applies` skips it when irrelevant."""

    name: ClassVar[str] = ""

    def __init__(self, settings: SchedulerSettings, now: float, service_down_time: float) -> None:
        self.settings = settings
        self.now = now
        self.service_down_time = service_down_time

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.name = cls.__name__
        if not cls.name.startswith("_"):  # shared bases are not selectable
            FILTERS[cls.name] = cls

    def applies(self, spec: RequestSpec) -> bool:
        return True

    def passes(self, table: HostStateTable, idx: Indices, spec: RequestSpec) -> Mask:
        raise NotImplementedError

    def detail(self, table: HostStateTable, rejected: Indices, spec: RequestSpec) -> str:
        """Why the rejected hosts failed, for 'No valid host' (e.g. "need 8192 MB, best 4096 MB free")."""
        return ""

"""Where an RPC message goes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """A topic, optionally narrowed to one host or widened to every server of the topic.

    ``host=None`` reaches any one server of the topic (competing consumers, round-robin);
    ``fanout=True`` casts to every server of the topic.
    """

    topic: str
    host: str | None = None
    fanout: bool = False
    version: str | None = None

    @property
    def host_queue(self) -> str:
        """The name of the queue only the server on ``host`` consumes from."""
        if self.host is None:
            raise ValueError(f"target for topic {self.topic} names no host")
        return f"{self.topic}.{self.host}"

    @property
    def fanout_exchange(self) -> str:
        return f"{self.topic}_fanout"

    def describe(self) -> str:
        return f"topic {self.topic} host {self.host or 'any'}"

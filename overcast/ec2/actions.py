"""The table of EC2 actions: each action's handler, the policy rule checked before it runs (and what
DryRun answers with), and the codes its resource's errors take."""

from __future__ import annotations

from dataclasses import dataclass

from overcast.ec2.backends import Handler


@dataclass(frozen=True)
class Action:
    name: str
    handler: Handler
    # The rule the OpenStack API checks for the same operation; None: any authenticated caller.
    rule: str | None = None
    # The codes a service object's NotFound and quota errors become for this action's resource.
    not_found: str = "InvalidParameterValue"
    quota: str = "ResourceLimitExceeded"
    # The code of a service's Conflict (a state the operation cannot start from).
    conflict: str = "IncorrectState"


def table(*families: tuple[Action, ...]) -> dict[str, Action]:
    actions: dict[str, Action] = {}
    for family in families:
        for action in family:
            if action.name in actions:
                raise ValueError(f"EC2 action {action.name} is defined twice")
            actions[action.name] = action
    return actions

"""Placement: the only writer of compute nodes' usage and devices.

Every change to what a node has in use goes through here: the scheduler's and the conductor's claims
(`claims.claim`, `claims.reserve`), every release when an instance leaves a node (`claims.release`), and
the device pools they count (`devices`). The compute host's resource tracker only reports capacity and
recounts usage from the instances. `resources` holds the two vectors they trade in: what an instance
asks for (`Wanted`) and what it holds once claimed (`Resources`).
"""

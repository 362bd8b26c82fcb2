"""Metering: notifications become append-only usage events; usage periods are read from them.

`usage.UsageReader` is what billing reads; `events` records events idempotently; `translate` turns a
notification into the event it means; `audit` heals what lost notifications missed; `manager` is the
`metering` service (listener pool "metering" plus the periodic audit) and `rpcapi` its client.
"""

"""DescribeRegions, DescribeAvailabilityZones, DescribeAccountAttributes."""

from __future__ import annotations

from overcast.compute import policies as compute_policies
from overcast.compute.api.aggregates import INTERNAL_AVAILABILITY_ZONE
from overcast.ec2.actions import Action
from overcast.ec2.backends import Backends, Ec2Request, Response
from overcast.ec2.errors import Ec2Error
from overcast.ec2.filtering import FilterTable
from overcast.ec2.params import filters_of

REGION_FILTERS: FilterTable[dict[str, str]] = FilterTable({
    "endpoint": lambda region: region["regionEndpoint"],
    "region-name": lambda region: region["regionName"],
    "opt-in-status": lambda region: region["optInStatus"],
})  # fmt: skip


def describe_regions(backends: Backends, request: Ec2Request) -> Response:
    regions = [{"regionName": backends.region, "regionEndpoint": backends.endpoint,
                "optInStatus": "opt-in-not-required"}]  # fmt: skip
    names = request.params.strings("RegionName")
    unknown = [name for name in names if name != backends.region]
    if unknown:
        raise Ec2Error("InvalidParameterValue", f"Invalid region: {unknown[0]}")
    return {"regionInfo": REGION_FILTERS.apply(regions, filters_of(request.params))}


ZONE_FILTERS: FilterTable[dict[str, object]] = FilterTable({
    "zone-name": lambda zone: zone["zoneName"],
    "zone-id": lambda zone: zone["zoneId"],
    "zone-type": lambda zone: zone["zoneType"],
    "region-name": lambda zone: zone["regionName"],
    "state": lambda zone: zone["zoneState"],
    "group-name": lambda zone: zone["groupName"],
    "opt-in-status": lambda zone: zone["optInStatus"],
    "message": lambda zone: [],
})  # fmt: skip


def describe_availability_zones(backends: Backends, request: Ec2Request) -> Response:
    zones: list[dict[str, object]] = [
        {
            "zoneName": zone.name, "zoneState": "available" if zone.available else "unavailable",
            "regionName": backends.region, "zoneId": zone.name, "zoneType": "availability-zone",
            "groupName": backends.region, "networkBorderGroup": backends.region,
            "optInStatus": "opt-in-not-required", "messageSet": [],
        }
        for zone in backends.admin.hosts.availability_zones(with_hosts=False)
        if zone.name != INTERNAL_AVAILABILITY_ZONE
    ]  # fmt: skip
    names = set(request.params.strings("ZoneName"))
    ids = set(request.params.strings("ZoneId"))
    if names or ids:
        zones = [zone for zone in zones if zone["zoneName"] in names or zone["zoneId"] in ids]
    return {"availabilityZoneInfo": ZONE_FILTERS.apply(zones, filters_of(request.params))}


def describe_account_attributes(backends: Backends, request: Ec2Request) -> Response:
    with backends.db.reader() as session:
        limits = backends.compute.quotas.get_limits(session, request.project_id)
    values = {
        "supported-platforms": ["VPC"],
        "default-vpc": ["none"],
        "max-instances": [str(limits.get("instances", -1))],
        "vpc-max-security-groups-per-interface": ["5"],
        "max-elastic-ips": ["0"],
        "vpc-max-elastic-ips": ["0"],
    }
    wanted = request.params.strings("AttributeName") or list(values)
    unknown = [name for name in wanted if name not in values]
    if unknown:
        raise Ec2Error("InvalidParameterValue", f"Invalid attribute name: {unknown[0]}")
    return {
        "accountAttributeSet": [
            {"attributeName": name, "attributeValueSet": [{"attributeValue": v} for v in values[name]]}
            for name in wanted
        ]
    }


ACTIONS = (
    Action("DescribeRegions", describe_regions),
    Action("DescribeAvailabilityZones", describe_availability_zones, rule=compute_policies.ZONES_LIST),
    Action("DescribeAccountAttributes", describe_account_attributes),
)

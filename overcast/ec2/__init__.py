"""The EC2 API's service object and its actions (issue #18), behind `api/ec2/`'s `/ec2` endpoint.

`service.py`'s `Ec2API` runs an action by name: it checks the action's policy rule (the compute,
image or key pair rule the OpenStack API checks for the same operation), answers DryRun, and calls the
action's handler, which calls the compute, image and identity service objects in-process as the
OpenStack routers do. `actions.py` is the table of actions; each family of actions is a module
(`regions.py`, `instances.py`, `images.py`, `keypairs.py`, `tags.py`; on the volume service
`volumes.py`; on the network service `vpcs.py`, `security_groups.py`, `addresses.py`). `ids.py` maps
EC2 ids to UUIDs through one table, `params.py` reads AWS's flattened query parameters, `filtering.py`
and `pagination.py` are the Filter.N and MaxResults/NextToken every Describe action shares, `errors.py`
AWS's error codes.
"""

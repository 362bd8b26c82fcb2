"""The EC2 API's functional modules: boto3, the AWS CLI and moto's EC2 server against the in-process cloud."""

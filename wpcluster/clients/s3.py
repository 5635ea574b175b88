"""The S3 API, as the harness speaks it to the site's bucket (the lab's store or real S3)."""

from __future__ import annotations

import json

import boto3
import botocore.config
import botocore.exceptions

from wpcluster.core.cluster import SiteServices
from wpcluster.core.secrets import Secrets


def s3_client(services: SiteServices, secrets: Secrets):  # noqa: ANN201 - boto3 clients are untyped
    return boto3.client(
        "s3",
        endpoint_url=services.s3_harness_endpoint,
        aws_access_key_id=secrets["WORDPRESS_CACHE_S3_KEY"],
        aws_secret_access_key=secrets["WORDPRESS_CACHE_S3_SECRET"],
        region_name="us-east-1",
        config=botocore.config.Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 1}),
    )


def public_read_policy(bucket: str) -> str:
    """Anyone may GET an object; nobody anonymous may list, write or delete (what a CDN origin needs)."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
        "Resource": [f"arn:aws:s3:::{bucket}/*"],
    }]})


def ensure_bucket(services: SiteServices, secrets: Secrets) -> bool:
    """Create the site's bucket if it does not exist, with its public-read policy; True once done."""
    client = s3_client(services, secrets)
    try:
        client.head_bucket(Bucket=services.bucket)
    except botocore.exceptions.ClientError:
        client.create_bucket(Bucket=services.bucket)
    client.put_bucket_policy(Bucket=services.bucket, Policy=public_read_policy(services.bucket))
    return True

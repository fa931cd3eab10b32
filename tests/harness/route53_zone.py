"""A Route 53 hosted zone on moto (same server and port as EC2) for the tests, the e2e lab
and the bench: a boto3 client, a private zone in figure 1's VPC, UPSERT and read back.

    r53 = route53_client(moto.url)
    zid = private_zone(r53, seed["vpc_id"])          # "internal.example."
    upsert(r53, zid, NAME, "10.0.2.10", ttl=60)
    record(r53, zid, NAME)                            # (["10.0.2.10"], 60) or None
"""

import boto3
from botocore.config import Config

from harness.moto import DUMMY_KEY, DUMMY_SECRET

ZONE = "internal.example."
NAME = "db.internal.example."


def route53_client(url):
    """A boto3 Route 53 client with dummy credentials pointed at `url` (moto, or a proxy)."""
    return boto3.client("route53", region_name="us-east-1", endpoint_url=url,
                        aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_SECRET,
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}))


def private_zone(r53, vpc_id, name=ZONE, region="us-east-1", ref="ec2-vip-test"):
    """A private hosted zone associated with `vpc_id`; returns its id (without /hostedzone/)."""
    z = r53.create_hosted_zone(Name=name, CallerReference=ref,
                               VPC={"VPCRegion": region, "VPCId": vpc_id},
                               HostedZoneConfig={"PrivateZone": True})
    return z["HostedZone"]["Id"].split("/")[-1]


def upsert(r53, zid, value, ttl=60, name=NAME, kind="A"):
    """UPSERT a simple record naming `value`."""
    r53.change_resource_record_sets(HostedZoneId=zid, ChangeBatch={"Changes": [{
        "Action": "UPSERT", "ResourceRecordSet": {
            "Name": name, "Type": kind, "TTL": ttl, "ResourceRecords": [{"Value": value}]}}]})


def record(r53, zid, name=NAME, kind="A"):
    """(values, TTL) of the record, or None."""
    sets = r53.list_resource_record_sets(HostedZoneId=zid, StartRecordName=name, StartRecordType=kind,
                                         MaxItems="1")["ResourceRecordSets"]
    found = [s for s in sets if s["Name"] == name and s["Type"] == kind]
    if not found:
        return None
    return [r["Value"] for r in found[0]["ResourceRecords"]], found[0].get("TTL")


def records(r53, zid):
    """Every record set of the zone except its SOA and NS: {(name, type): (values, TTL)}."""
    out = {}
    for page in r53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zid):
        for s in page["ResourceRecordSets"]:
            if s["Type"] not in ("SOA", "NS"):
                out[(s["Name"], s["Type"])] = ([r["Value"] for r in s.get("ResourceRecords", [])], s.get("TTL"))
    return out

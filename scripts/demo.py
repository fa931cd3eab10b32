"""Run by scripts/demo: fail the VIP over to node2 and back, printing EC2's view each time."""

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from harness.imds_fake import start_imds  # noqa: E402
from harness.moto import ec2_client, start_moto  # noqa: E402
from harness.runner import run_vip  # noqa: E402
from harness.scenario import OTHER_CLUSTER_VIP, VIP, node_json, routes_of, seed_figure1  # noqa: E402

REGION = "us-east-1"


def show(ec2, seed, title):
    names = {seed["node1"]["eni_id"]: "node1", seed["node2"]["eni_id"]: "node2"}
    print(f"\n--- {title}")
    for label, rtb in (("Route Table A (10.0.2.0/24)", seed["rtb_a"]), ("Route Table B (10.0.4.0/24)", seed["rtb_b"])):
        print(f"{label}  {rtb}")
        for dest, target in routes_of(ec2, rtb).items():
            mark = f"  <- {names[target]}" if dest in (VIP, OTHER_CLUSTER_VIP) and target in names else ""
            print(f"    {dest:<16} {target}{mark}")
    [a] = ec2.describe_addresses(AllocationIds=[seed["eip"]["allocation_id"]])["Addresses"]
    eni = a.get("NetworkInterfaceId") or "unassociated"
    print(f"Elastic IP {a['PublicIp']} ({a['AllocationId']}) -> {eni}  <- {names.get(eni, '?')}")


def failover(binary, imds, moto, node):
    args = ["master", "--route", VIP, "--eip", imds.eip]
    print(f"\n$ ec2-vip {' '.join(args)}     # on {node}")
    r = run_vip(binary, args, imds, moto)
    for line in r.stderr.splitlines():
        print("  " + line)
    print(f"  exit {r.returncode}, {r.elapsed * 1000:.0f} ms wall (process start to exit)")
    if r.returncode != 0:
        sys.exit(r.returncode)


def main(binary):
    venv = Path(sys.executable).parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        moto = start_moto(str(venv), log_path=f"{tmp}/moto.log", region=REGION)
        try:
            ec2 = ec2_client(moto.url, REGION)
            seed = seed_figure1(ec2)
            nodes = {n: start_imds(node_json(seed, n, REGION), log_requests=False) for n in ("node1", "node2")}
            for imds in nodes.values():
                imds.eip = seed["eip"]["allocation_id"]
            print(f"moto server (EC2 API) at {moto.url}; VPC {seed['vpc_id']} 10.0.0.0/16; VIP {VIP}")
            for n, imds in nodes.items():
                print(f"{n}: {seed[n]['instance_id']} ENI {seed[n]['eni_id']}, IMDSv2 fake at {imds.url}")
            show(ec2, seed, "before: node1 is MASTER")
            failover(binary, nodes["node2"], moto, "node2")
            show(ec2, seed, "after failover: node2 is MASTER (10.1.0.20/32 of another cluster untouched)")
            failover(binary, nodes["node1"], moto, "node1")
            show(ec2, seed, "after failback: node1 is MASTER again")
            for imds in nodes.values():
                imds.stop()
        finally:
            moto.stop()


if __name__ == "__main__":
    main(sys.argv[1])

"""Traffic report for issue #15: see bench/traffic for what it does and how to run it."""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "e2e"))
sys.path.insert(0, str(REPO / "bench"))

from bench import machine  # noqa: E402
from e2e_dataplane import EVERY, INTERVAL, TIMEOUT  # noqa: E402
from e2e_haproxy import CASES, TrafficCluster, missing  # noqa: E402
from e2e_keepalived import install_bin  # noqa: E402
from e2e_net import tool  # noqa: E402
from e2e_outage import markdown  # noqa: E402


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="bench/traffic", description=__doc__)
    ap.add_argument("--binary", default=os.environ.get("EC2VIP_BIN"),
                    help="ec2-vip [EC2VIP_BIN, else target/release, else target/debug]")
    ap.add_argument("--venv", default=os.environ.get("EC2VIP_VENV") or str(REPO / ".venv"))
    ap.add_argument("--variants", default="notify,watch", help="notify,watch")
    ap.add_argument("--cases", default=",".join(CASES), help=",".join(CASES))
    ap.add_argument("--log-dir", help="keep the lab's logs here [a new temp dir]")
    args = ap.parse_args(argv)
    if args.binary is None:
        release = REPO / "target" / "release" / "ec2-vip"
        args.binary = str(release if release.exists() else REPO / "target" / "debug" / "ec2-vip")
    args.binary = os.path.abspath(args.binary)
    args.variants = [v for v in args.variants.split(",") if v]
    args.cases = [c for c in args.cases.split(",") if c]
    unknown = set(args.cases) - set(CASES) or set(args.variants) - {"notify", "watch"}
    if unknown:
        ap.error(f"unknown: {', '.join(sorted(unknown))}")
    why = ("needs root (network namespaces)" if os.geteuid() != 0 else
           "needs `ip` (iproute2)" if tool("ip") is None else
           "needs `keepalived`" if tool("keepalived") is None else missing())
    if why:
        ap.error(why)
    if not os.access(args.binary, os.X_OK):
        ap.error(f"no ec2-vip binary at {args.binary}: cargo build, or pass --binary")
    if not (Path(args.venv) / "bin" / "moto_server").exists():
        ap.error(f"no moto_server in {args.venv}: scripts/test builds .venv, or pass --venv")
    return args


def note(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def run_variant(variant, args, bin_dir, log_dir, rows):
    binary, stamp = bin_dir / "ec2-vip", bin_dir / "stamp"
    work = log_dir / variant
    work.mkdir()
    c = TrafficCluster(variant, work, binary, stamp, Path(args.venv), [])
    try:
        c.setup()
        c.first_election()
        note(f"{variant}: lab up, a is MASTER")
        for case in args.cases:
            for r in c.run_case(case):
                rows.append(r)
                out = "-" if r["outage"] is None else f"{r['outage']:.2f} s"
                note(f"{variant}: {case} ({r['path']}): outage {out}")
        return c.poller_stats()
    finally:
        c.close()


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # unwind like Ctrl-C: the lab is torn down
    log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="ec2vip-traffic-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    bin_dir = Path(tempfile.mkdtemp(prefix="ec2vip-traffic-bin-"))  # root-owned: script security
    rows, polls = [], {}
    start = time.monotonic()
    try:
        install_bin(str(bin_dir), args.binary)
        for variant in args.variants:
            polls[variant] = run_variant(variant, args, bin_dir, log_dir, rows)
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)
    print("\n".join(markdown(rows)))
    print()
    for variant, p in polls.items():
        if p:
            print(f"- poller ({variant}): a read of EC2 began every {p[0] * 1000:.0f} ms "
                  f"(median; longest gap {p[1] * 1000:.0f} ms), one read (DescribeRouteTables + "
                  f"DescribeAddresses) took {p[2] * 1000:.0f} ms (median)")
    print(f"- client: one GET per path every {EVERY * 1000:.0f} ms, each given up after "
          f"{TIMEOUT * 1000:.0f} ms; poller: aims at <= {INTERVAL * 1000:.0f} ms between reads "
          "(the longest gap above is what it achieved)")
    print("- VRRP detection: fault -> the new master's notify; ec2-vip convergence: notify -> "
          "ec2-vip logged the write (route in the client's table / AssociateAddress) done; "
          "data-plane lag: that write -> the poller applied it to the client's route / NAT; "
          "client outage: first failed or wrong-node request -> first request answered by "
          "the new master after the last bad one; goal: detection + 0.5 s (advert_int 1)")
    print(f"- {machine()}; {time.monotonic() - start:.0f} s in all; logs: {log_dir}")
    return 0 if all(r["outage"] is not None for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

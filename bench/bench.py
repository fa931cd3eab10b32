"""ec2-vip benchmark: see bench/run for what it measures and how to run it."""

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

import cases  # noqa: E402
import scenarios  # noqa: E402
import watchers  # noqa: E402
from harness.fault_proxy import start_proxy  # noqa: E402
from harness.imds_fake import start_imds  # noqa: E402
from harness.moto import start_moto  # noqa: E402
from harness.scenario import node_json  # noqa: E402

TOOLS = {
    "ec2-vip": "ec2-vip master --route 10.1.0.10/32",
    "cli-script": "aws ec2 replace-route, one process per table (seed's notify script)",
    "pacemaker-loop": "bash: aws describe-route-tables + replace-route + sleep 1 per table",
}
MUTATING_BURST, MUTATING_RATE = 50, 5.0


def big(n):
    """A throttle-bound case (the 500 tables): ec2-vip only, one run, --timeout-500."""
    return n > 2 * MUTATING_BURST


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="bench/run", description="ec2-vip failover benchmark")
    ap.add_argument("--binary", help="ec2-vip to measure [target/release/ec2-vip if built, "
                                     "else target/debug/ec2-vip]")
    ap.add_argument("--venv", default=os.environ.get("EC2VIP_VENV") or str(REPO / ".venv"),
                    help="venv with moto[server], boto3, awscli [.venv or EC2VIP_VENV]")
    ap.add_argument("--tables", default="2,50", help="table counts, comma-separated [2,50]")
    ap.add_argument("--tools", default=",".join(TOOLS), help=f"subset of {','.join(TOOLS)}")
    ap.add_argument("--reps", type=int, default=3, help="runs per cheap cell [3]")
    ap.add_argument("--slow-reps", type=int, default=1,
                    help="runs per peer cell taking over 20 s (50-table peers) [1]")
    ap.add_argument("--latency", type=float, default=0.03, help="seconds added per request")
    ap.add_argument("--timeout", type=float, default=30, help="ec2-vip --timeout [30]")
    ap.add_argument("--with-500", action="store_true",
                    help="also the 500-table case (>= 90 s by design)")
    ap.add_argument("--timeout-500", type=float, default=300,
                    help="ec2-vip --timeout for the 500-table case [300]")
    ap.add_argument("--help-runs", type=int, default=20, help="`--help` runs [20]")
    ap.add_argument("--log-dir", help="where each run's output is kept [a new temp dir]")
    ap.add_argument("--no-scenarios", action="store_true",
                    help="skip the per-scenario rows (Elastic IP, Transit Gateway, warm watch)")
    ap.add_argument("--route53-pending", type=float, default=20.0,
                    help="seconds the proxy holds a Route 53 change PENDING in the INSYNC row "
                         "(AWS: generally INSYNC within 60 s); 0 skips that row [20]")
    ap.add_argument("--no-watchers", action="store_true",
                    help="skip the split-brain and fleet cases (long-running watchers)")
    ap.add_argument("--split-seconds", type=float, default=30.0, help="split-brain window [30]")
    ap.add_argument("--fleet", type=int, default=50, help="watchers in the fleet case [50]")
    args = ap.parse_args(argv)
    args.tables = [int(t) for t in args.tables.split(",") if t]
    args.tools = [t for t in args.tools.split(",") if t]
    unknown = set(args.tools) - set(TOOLS)
    if unknown:
        ap.error(f"unknown tool(s): {', '.join(sorted(unknown))}")
    if args.binary is None:
        release = REPO / "target" / "release" / "ec2-vip"
        args.binary = str(release if release.exists() else REPO / "target" / "debug" / "ec2-vip")
    args.binary = os.path.abspath(args.binary)  # runs happen in a temp cwd
    if not os.access(args.binary, os.X_OK):
        ap.error(f"no ec2-vip binary at {args.binary}: cargo build, or pass --binary")
    return args


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh
                          if line.startswith("model name")), "?")
    except OSError:
        pass
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"nproc {cpus}, {model}, {platform.system()} {platform.release()}, " \
           f"Python {platform.python_version()}"


class Bench:
    def __init__(self, args):
        self.args = args
        self.log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="ec2vip-bench-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.rows = []     # (tables, tool, [Outcome])
        self.extra = {}    # name -> value for the binary/500 sections
        self.moto = self.proxy = None

    def note(self, text):
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    def run_cell(self, n, tool, seed, tables, imds, reps, wrapper=()):
        node1, node2 = seed["node1"]["eni_id"], seed["node2"]["eni_id"]
        outcomes = []
        for rep in range(reps):
            cases.point_tables_at(self.moto.url, tables, node1)
            self.proxy.reset()  # zero the counters, refill every bucket
            timeout = self.args.timeout_500 if big(n) else self.args.timeout
            if tool == "ec2-vip":
                out = cases.run_ec2_vip(self.args.binary, imds, self.proxy.url, tables, node2,
                                        timeout, wrapper)
            elif tool == "cli-script":
                out = cases.run_cli_script(self.args.venv, self.proxy.url, tables, node2, 3600)
            else:
                out = cases.run_pacemaker_loop(self.args.venv, self.proxy.url, tables, node2,
                                               3600)
            out.stats = self.proxy.stats()
            out.good, out.bad, out.other_ok = cases.read_back(self.moto.url, seed, tables, node2)
            tag = "-rss" if wrapper else ""
            (self.log_dir / f"{n}t-{tool}{tag}-{rep + 1}.log").write_text(out.log)
            self.note(f"{n} tables, {tool}{tag} run {rep + 1}: {out.elapsed:.2f} s, "
                      f"rc {out.returncode}, {out.good}/{len(tables)} moved, "
                      f"{out.stats['total']} calls, {out.stats['throttled']} throttled")
            outcomes.append(out)
        return outcomes

    def case(self, n):
        start = time.monotonic()
        seed, tables = cases.seed_tables(self.moto, n)
        self.note(f"seeded figure 1 with {n} VIP tables in {time.monotonic() - start:.1f} s")
        imds = start_imds(node_json(seed, "node2", cases.REGION), log_requests=False)
        try:
            for tool in self.args.tools:
                if big(n) and tool != "ec2-vip":
                    continue
                slow = tool != "ec2-vip" and n > 10
                reps = 1 if big(n) else \
                    self.args.slow_reps if slow else self.args.reps
                self.rows.append((n, tool, self.run_cell(n, tool, seed, tables, imds, reps)))
            if n == 2 and "ec2-vip" in self.args.tools:
                self.peak_rss(seed, tables, imds)
            if n == 2:
                self.extra.setdefault("floor", {})[n] = cases.round_trip_floor(
                    self.proxy, tables, seed["node2"]["eni_id"])
        finally:
            imds.stop()

    def scenario_rows(self):
        args, rows = self.args, []
        seed, tables = cases.seed_tables(self.moto, 2)
        self.note("scenario rows: Elastic IP, warm watch")
        rows.append(scenarios.elastic_ip(args.binary, self.moto.url, self.proxy, seed, args.reps))
        rows.append(scenarios.warm_watch(args.binary, self.moto.url, self.proxy, seed, tables, args.reps))
        self.note("scenario rows: fast failback with reads 2 s stale")
        rows.append(scenarios.stale_failback(args.binary, self.moto.url, self.proxy, seed, args.reps))
        self.note("scenario rows: Route 53 record (moto: INSYNC at once)")
        rows.append(scenarios.route53(args.binary, self.moto.url, self.proxy, seed, args.reps,
                                      timeout=args.timeout))
        if args.route53_pending > 0:
            self.note(f"scenario rows: Route 53 record, PENDING for {args.route53_pending:g} s")
            rows.append(scenarios.route53(args.binary, self.moto.url, self.proxy, seed, args.slow_reps,
                                          args.route53_pending, args.timeout))
        ext = start_moto(args.venv, log_path=str(self.log_dir / "moto_ext.log"), region=cases.REGION,
                         extended=True)
        proxy = start_proxy(ext.url, latency=args.latency, mutating_bucket=[MUTATING_BURST, MUTATING_RATE])
        try:
            ext.reset(seed=1)
            self.note("scenario rows: secondary private IP")
            rows.append(scenarios.private_ip(args.binary, ext.url, proxy, args.reps))
            ext.reset(seed=1)
            self.note("scenario rows: IPv6 address")
            rows.append(scenarios.ipv6_address(args.binary, ext.url, proxy, args.reps))
            for two in (False, True):
                ext.reset(seed=1)
                self.note(f"scenario rows: Transit Gateway, {'two regions' if two else 'one region'}")
                rows.append(scenarios.transit_gateway(args.binary, ext.url, proxy, args.reps, two))
        finally:
            proxy.stop()
            ext.stop()
        self.extra["scenarios"] = rows

    def peak_rss(self, seed, tables, imds):
        wrapper = cases.time_v_wrapper()
        if wrapper:
            out = self.run_cell(2, "ec2-vip", seed, tables, imds, 1, wrapper)[0]
            self.extra["rss"] = (cases.peak_rss_kib(out.log), out.ok, "GNU time -v")
        else:
            cases.point_tables_at(self.moto.url, tables, seed["node1"]["eni_id"])
            self.proxy.reset()
            kib, rc = cases.peak_rss_wait4(self.args.binary, imds, self.proxy.url,
                                           self.args.timeout)
            self.extra["rss"] = (kib, rc == 0, "wait4 ru_maxrss")

    def run(self):
        args = self.args
        self.note(f"logs in {self.log_dir}")
        self.moto = start_moto(args.venv, log_path=str(self.log_dir / "moto.log"),
                               region=cases.REGION)
        # EC2's default buckets: Describe* 100 burst 20/s, mutating 50 burst 5/s.
        self.proxy = start_proxy(self.moto.url, latency=args.latency,
                                 mutating_bucket=[MUTATING_BURST, MUTATING_RATE])
        try:
            times = cases.help_start_times(args.binary, args.help_runs)
            self.extra["help"] = times
            self.extra["spawn"] = cases.help_start_times("/bin/true", args.help_runs, help_flag=False)
            for n in args.tables:
                self.case(n)
            if args.with_500 and "ec2-vip" in args.tools:
                self.case(500)
            if not args.no_scenarios:
                self.scenario_rows()
            if not args.no_watchers:
                seed, _ = cases.seed_tables(self.moto, 2)
                self.proxy.reset()
                self.note(f"split brain: two watchers both MASTER for {args.split_seconds:g} s")
                self.extra["split"] = watchers.split_brain(args.binary, self.moto.url, self.proxy.url,
                                                           seed, args.split_seconds)
                seed, _ = cases.seed_tables(self.moto, 2)
                self.proxy.reset()
                self.note(f"fleet: {args.fleet} watchers, then one failover")
                self.extra["fleet"] = watchers.fleet(args.binary, self.moto.url, self.proxy, seed,
                                                     args.fleet)
        finally:
            self.proxy.stop()
            self.moto.stop()


# --- output ---------------------------------------------------------------------------------

def static_gate():
    """The size gate scripts/build-static enforces (its EC2VIP_MAX_BYTES default)."""
    text = (Path(__file__).resolve().parents[1] / "scripts/build-static").read_text()
    m = re.search(r"EC2VIP_MAX_BYTES:-(\d+)", text)
    return int(m.group(1)) if m else "unknown"


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def busy(outs):
    """Median seconds moto was busy during the runs (proxy counter)."""
    return med([o.stats["upstream_busy"] for o in outs])


def result_text(outs):
    good = sum(o.ok for o in outs)
    if good == len(outs):
        return f"ok {good}/{len(outs)}"
    bad = [o for o in outs if not o.ok]
    worst = max(bad, key=lambda o: o.bad)
    split = f", {worst.bad} tables not moved" if worst.bad else ""
    other = ", OTHER VPC TOUCHED" if not all(o.other_ok for o in outs) else ""
    return f"FAIL {len(bad)}/{len(outs)} (rc {worst.returncode}{split}{other})"


def route53_line(r, latency):
    """Time to INSYNC of a Route 53 row, from ec2-vip's own log."""
    t = med(r.insync)
    if not r.pending:
        return (f"- {r.name}: moto answers INSYNC at once, so no GetChange ({med(r.get_change):g} "
                f"calls); change sent -> done {t * 1000:.0f} ms (median)")
    lag = t - r.pending - 2 * latency
    return (f"- {r.name}: time to INSYNC (ec2-vip's log: plan -> written and INSYNC) median "
            f"{t:.2f} s (min {min(r.insync):.2f}, max {max(r.insync):.2f}) with the change PENDING "
            f"for {r.pending:g} s = PENDING + a ChangeResourceRecordSets and a GetChange round "
            f"trip ({2 * latency * 1000:.0f} ms) + {lag * 1000:.0f} ms polling lag; GetChange calls "
            f"{med(r.get_change):g} (from 250 ms, doubling, at most 2 s apart, jittered)")


def print_report(bench):
    args = bench.args
    print()
    print(f"ec2-vip benchmark, {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"machine: {machine()}")
    print(f"binary:  {args.binary} ({cases.describe_binary(args.binary)})")
    print(f"EC2 API: moto behind the fault proxy, +{args.latency * 1000:.0f} ms per request, "
          f"buckets per action: Describe* 100 burst 20/s, mutating "
          f"{MUTATING_BURST} burst {MUTATING_RATE:g}/s (refilled before every run)")
    print(f"ec2-vip: --timeout {args.timeout:g} (500 tables: {args.timeout_500:g}); "
          f"peers: bash loops calling {args.venv}/bin/aws")
    print()
    print("| tables | approach | runs | median s | min s | max s | API calls | throttled "
          "| moto busy s | result |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for n, tool, outs in bench.rows:
        el = [o.elapsed for o in outs]
        calls = med([o.stats["total"] for o in outs])
        thr = med([o.stats["throttled"] for o in outs])
        print(f"| {n} | {tool} | {len(outs)} | {med(el):.2f} | {min(el):.2f} | {max(el):.2f} "
              f"| {calls:g} | {thr:g} | {busy(outs):.2f} | {result_text(outs)} |")
    print()
    print("approaches: " + "; ".join(f"{k} = {v}" for k, v in TOOLS.items()))
    print("moto busy: seconds with a request inside moto (it serves one at a time), the part "
          "of a run no client can overlap")
    print()
    cell = {(n, tool): med([o.elapsed for o in outs]) for n, tool, outs in bench.rows}
    for n, floor in bench.extra.get("floor", {}).items():
        vip = cell.get((n, "ec2-vip"))
        tail = f"; ec2-vip {vip:.2f} s = floor + {(vip - floor) * 1000:.0f} ms" if vip else ""
        print(f"- {n} tables, round-trip floor (warm boto3 client: describe, all replaces at "
              f"once, read back): {floor:.2f} s{tail}")
    for n, tool, outs in bench.rows:
        if tool == "ec2-vip" and not big(n):
            print(f"- {n} tables: ec2-vip {cell[(n, tool)]:.2f} s; lower bound = moto busy "
                  f"{busy(outs):.2f} s + 3 sequential round trips x {args.latency * 1000:.0f} ms "
                  f"= {busy(outs) + 3 * args.latency:.2f} s")
    if (2, "ec2-vip") in cell:
        vip2 = cell[(2, "ec2-vip")]
        floor = bench.extra.get("floor", {}).get(2)
        for peer in ("cli-script", "pacemaker-loop"):
            if (2, peer) in cell:
                best = f"; the floor allows {cell[(2, peer)] / floor:.1f}x" if floor else ""
                print(f"- 2 tables: ec2-vip {cell[(2, peer)] / vip2:.1f}x faster than {peer}"
                      + (f" (target >= 20x{best})" if peer == "cli-script" else ""))
        if (50, "ec2-vip") in cell:
            print(f"- ec2-vip 50 tables / 2 tables: {cell[(50, 'ec2-vip')] / vip2:.2f}x "
                  "(target <= 1.5x)")
    for n, tool, outs in bench.rows:
        if big(n) and tool == "ec2-vip":
            o = outs[0]
            floor = (n - MUTATING_BURST) / MUTATING_RATE
            writes = o.stats["requests"].get("ReplaceRoute", 0)
            verdict = "converged" if o.ok else "FAILED"
            print(f"- {n} tables behind a {MUTATING_BURST}/{MUTATING_RATE:g} bucket: {verdict} "
                  f"in {o.elapsed:.1f} s = {o.elapsed / floor:.2f}x the {floor:g} s minimum "
                  f"(target <= 1.05x, converged); {o.stats['throttled']} throttled of {writes} "
                  f"ReplaceRoute calls; max {o.stats['max_in_flight']} in flight; exit "
                  f"{o.returncode}; read back: {o.good}/{n} moved, {o.bad} not")
    size = os.path.getsize(args.binary)
    gate = static_gate()
    print(f"- binary size: {size / 1e6:.2f} MB ({size} bytes; gate {gate} bytes, scripts/build-static)")
    if "help" in bench.extra:
        t = bench.extra["help"]
        base = med(bench.extra.get("spawn", [0.0]))
        print(f"- `--help` start to exit: median {med(t) * 1000:.1f} ms of {len(t)} runs "
              f"(min {min(t) * 1000:.1f}, max {max(t) * 1000:.1f}); /bin/true spawned the same way "
              f"{base * 1000:.1f} ms, so ec2-vip's own share is {(med(t) - base) * 1000:.1f} ms "
              "(target <= 1 ms)")
    if "rss" in bench.extra:
        kib, ok, how = bench.extra["rss"]
        print(f"- peak RSS of a 2-table failover: {kib / 1024:.1f} MiB ({how}; run "
              f"{'ok' if ok else 'FAILED'}; target <= 20 MB)")
    if "scenarios" in bench.extra:
        print()
        print("| scenario | runs | median s | API calls | round trips (floor) | floor s | ratio | result |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        rows = list(bench.extra["scenarios"])
        for n, tool, outs in bench.rows:
            if n == 2 and tool == "ec2-vip":
                rows.insert(0, scenarios.Row("route tables", [o.elapsed for o in outs],
                                             med([o.stats["total"] for o in outs]), busy(outs),
                                             all(o.ok for o in outs)))
        for r in rows:
            m, floor = med(r.times), r.floor(args.latency)
            print(f"| {r.name} | {len(r.times)} | {m:.3f} | {r.calls:g} | {r.trips} "
                  f"| {floor:.3f} | {m / floor:.2f} | {'ok' if r.ok else 'FAILED'} |")
        print()
        print("floor s = round trips of the scenario's dependency chain x the added latency + moto "
              "busy (+ the PENDING time of the INSYNC row); one-shot rows are whole processes (IMDS, "
              "client set-up included), the watch row from the MASTER line to the tables read at node2")
        for r in rows:
            if hasattr(r, "insync"):
                print(route53_line(r, args.latency))
    if "split" in bench.extra:
        sp = bench.extra["split"]
        (rf, rl), (ef, el) = sp["route"], sp["eip"]
        print(f"- split brain (two watchers both MASTER, --interval 1, {args.split_seconds:g} s): "
              f"route table A changed hands {rf} times (last at {rl:.1f} s), the Elastic IP {ef} "
              f"times (last at {el:.1f} s); ends on {sp['holder'][0]} (target <= 4 flips, none "
              f"after 18 s)")
    if "fleet" in bench.extra:
        fl = bench.extra["fleet"]
        print(f"- fleet: {fl['watchers']} watchers at --interval 1 sharing the Describe bucket: "
              f"{fl['describe_rate']:.1f} Describe calls/s and {fl['throttled_settle']} throttled "
              f"answers over {fl['settle']:g} s; then one 2-table failover among them took "
              f"{fl['elapsed']:.2f} s, exit {fl['returncode']}, {fl['throttled']} throttled "
              f"answers in the account meanwhile")
    print(f"- logs: {bench.log_dir}")


def main(argv=None):
    args = parse_args(argv)
    bench = Bench(args)
    bench.run()
    print_report(bench)
    failed = any(not o.ok for _, _, outs in bench.rows for o in outs) or \
        any(not r.ok for r in bench.extra.get("scenarios", []))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

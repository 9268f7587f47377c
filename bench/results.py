#!/usr/bin/env python3
"""Number crunching for bench/run.sh: turns tool output into records, and records into the report.

    results.py redis   RAW OUT --case C --target T --round N --rc RC --requests N \
                       --clk-tck HZ --proxy-ticks N --proxy-sys-ticks N --backend-ticks N \
                       --busy-ticks N --total-ticks N [--suite tls|cluster]
    results.py sysbench RAW OUT --case C --target T --round N --rc RC \
                       --clk-tck HZ --proxy-ticks N --proxy-sys-ticks N --backend-ticks N \
                       --busy-ticks N --total-ticks N [--suite tls]
    results.py failed  RAW --suite S --case C --target T --round N --reason TEXT
    results.py idle    RAW --case C --target T --protocol P --clients N --workers N \
                       (--reason TEXT | --rss-before KIB --rss-after KIB --backend-connections N)
    results.py report  RAW --workers N [--title TEXT] [--machine FILE]

RAW is a JSON-lines file: every measured run (or failed attempt) appends one record, so an interrupted
run still leaves what it measured. `report` prints the markdown tables and the check of issue 5's
targets to stdout. Python standard library only.
"""

import argparse
import json
import re
import statistics
import sys

SUITE_TARGETS = {
    "redis": ["direct", "twemproxy", "haproxy", "corral", "corral-io_uring"],
    "mysql": ["direct", "haproxy", "corral", "corral-io_uring"],
    "idle": ["direct", "twemproxy", "haproxy", "corral"],
    "tls": ["direct", "direct+tls", "corral", "corral+tls"],
    "cluster": ["direct", "corral"],
}
REFERENCE = {"redis": "twemproxy", "mysql": "haproxy"}


# --- parsing tool output ---------------------------------------------------------------------------


def first_matching_line(text, pattern):
    for line in text.splitlines():
        if re.search(pattern, line):
            return line.strip()[:200]
    return None


def per_request_us(ticks, clk_tck, requests):
    if requests <= 0:
        return None
    return ticks / clk_tck * 1e6 / requests


def share(part, whole):
    """part / whole, or None when whole is 0 (a run too short to be charged a clock tick)."""
    return part / whole if whole > 0 else None


def parse_redis_benchmark(text, rc):
    """redis-benchmark --csv: a header line, then "TEST","rps","avg","min","p50","p95","p99","max"."""
    # "WARNING: Could not fetch server CONFIG" (twemproxy refuses CONFIG) is harmless and not matched.
    error = first_matching_line(text, r"^(Error|ERR)|Error from server")
    rows = [line for line in text.splitlines() if re.match(r'^"[A-Z]', line)]
    if rc != 0 or error or not rows:
        reason = error or first_matching_line(text, r"\S") or "no output"
        if rc != 0:
            reason = f"exit status {rc}: {reason}"
        return None, reason
    fields = [f.strip('"') for f in rows[-1].split(",")]
    return {"throughput": float(fields[1]), "p50_ms": float(fields[4]), "p99_ms": float(fields[6])}, None


def histogram_percentile(buckets, fraction):
    """buckets: [(upper value in ms, count)] in increasing order; the value at `fraction` of events."""
    total = sum(count for _, count in buckets)
    if total == 0:
        return None
    rank = fraction * total
    seen = 0
    for value, count in buckets:
        seen += count
        if seen >= rank:
            return value
    return buckets[-1][0]


def parse_sysbench(text, rc):
    """sysbench 1.0 text report run with --histogram=on (latency per transaction)."""
    # The line with the server's error code says most ("FATAL: error 1105: ..."); then any FATAL.
    fatal = first_matching_line(text, r"error \d+") or first_matching_line(text, r"FATAL|ALERT")
    queries = re.search(r"^\s*queries:\s+(\d+)\s+\((\d+(?:\.\d+)?) per sec", text, re.M)
    errors = re.search(r"^\s*ignored errors:\s+(\d+)", text, re.M)
    if rc != 0 or fatal or not queries:
        reason = fatal or first_matching_line(text, r"\S") or "no output"
        if rc != 0:
            reason = f"exit status {rc}: {reason}"
        return None, reason
    buckets = [(float(m.group(1)), int(m.group(2)))
               for m in re.finditer(r"^\s*(\d+(?:\.\d+)?) \|\**\s+(\d+)\s*$", text, re.M)]
    return {
        "throughput": float(queries.group(2)),
        "requests": int(queries.group(1)),
        "errors": int(errors.group(1)) if errors else 0,
        "p50_ms": histogram_percentile(buckets, 0.50),
        "p99_ms": histogram_percentile(buckets, 0.99),
    }, None


def record_run(args, suite, parsed, reason, requests):
    record = {"suite": suite, "case": args.case, "target": args.target, "round": args.round}
    if parsed is None:
        record.update(ok=False, reason=reason)
    else:
        record.update(ok=True, **parsed)
        proxied = not args.target.startswith("direct")
        record["proxy_cpu_us"] = per_request_us(args.proxy_ticks, args.clk_tck, requests) if proxied else None
        record["proxy_kernel_share"] = share(args.proxy_sys_ticks, args.proxy_ticks) if proxied else None
        record["backend_cpu_us"] = per_request_us(args.backend_ticks, args.clk_tck, requests)
        record["machine_busy_share"] = share(args.busy_ticks, args.total_ticks)
    return record


def command_redis(args):
    parsed, reason = parse_redis_benchmark(read(args.output), args.rc)
    return record_run(args, args.suite or "redis", parsed, reason, args.requests)


def command_sysbench(args):
    parsed, reason = parse_sysbench(read(args.output), args.rc)
    return record_run(args, args.suite or "mysql", parsed, reason, parsed["requests"] if parsed else 0)


def command_failed(args):
    return {"suite": args.suite, "case": args.case, "target": args.target, "round": args.round,
            "ok": False, "reason": args.reason}


def command_idle(args):
    record = {"suite": "idle", "case": args.case, "target": args.target, "protocol": args.protocol,
              "clients": args.clients, "workers": args.workers, "round": 1}
    if args.reason:
        record.update(ok=False, reason=args.reason)
    else:
        record.update(ok=True, rss_before_kib=args.rss_before, rss_after_kib=args.rss_after,
                      backend_connections=args.backend_connections)
    return record


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


# --- the report ------------------------------------------------------------------------------------


class Group:
    """All rounds of one (suite, case, target)."""

    def __init__(self, records):
        self.records = records
        self.ok = [r for r in records if r["ok"]]
        self.failures = [r for r in records if not r["ok"]]

    def median(self, key):
        values = [r[key] for r in self.ok if r.get(key) is not None]
        return statistics.median(values) if values else None

    def spread(self):
        """(max - min) / median of throughput, in percent."""
        values = [r["throughput"] for r in self.ok]
        if len(values) < 2:
            return None
        return (max(values) - min(values)) / statistics.median(values) * 100

    def errors(self):
        return sum(r.get("errors", 0) for r in self.ok)

    def failure_text(self):
        if not self.failures:
            return ""
        reason = self.failures[0]["reason"]
        return f"{len(self.failures)} of {len(self.records)} rounds failed: {reason}"


def load(path):
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                records.append(json.loads(line))
    return records


def grouped(records, suite):
    """{case: {target: Group}} in the order cases were first run."""
    cases = {}
    for r in records:
        if r["suite"] == suite:
            cases.setdefault(r["case"], {}).setdefault(r["target"], []).append(r)
    return {case: {t: Group(rs) for t, rs in targets.items()} for case, targets in cases.items()}


def percent(fraction):
    return None if fraction is None else fraction * 100


def fmt(value, digits=2, suffix=""):
    if value is None:
        return "–"
    return f"{value:,.{digits}f}{suffix}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def paired(group, base, key, combine=ratio):
    """Median over rounds of combine(group's value, base's value in the same round).

    A round runs every target of a case back to back, so pairing by round cancels most of the load
    that other work on the machine adds for a while; a ratio of medians would mix rounds."""
    if group is None or base is None:
        return None
    base_by_round = {r["round"]: r.get(key) for r in base.ok}
    values = [combine(r.get(key), base_by_round.get(r["round"])) for r in group.ok]
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def difference(a, b):
    return None if a is None or b is None else a - b


def throughput_table(records, suite, unit):
    cases = grouped(records, suite)
    if not cases:
        return []
    ref = REFERENCE[suite]
    lines = [
        f"| benchmark | target | {unit} (median) | spread | p50 ms | p99 ms | proxy CPU µs/req "
        f"| proxy kernel % | backend CPU µs/req | machine busy % | vs direct | vs {ref} | errors |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for case, targets in cases.items():
        direct = targets.get("direct")
        reference = targets.get(ref)
        for target in SUITE_TARGETS[suite]:
            group = targets.get(target)
            if group is None:
                continue
            if not group.ok:
                lines.append(f"| {case} | {target} | {target}: failed ({group.failures[0]['reason']}) "
                             "| | | | | | | | | | |")
                continue
            tput = group.median("throughput")
            vs_direct = paired(group, direct, "throughput") if target != "direct" else None
            vs_ref = paired(group, reference, "throughput") if target not in ("direct", ref) else None
            note = group.failure_text()
            errors = str(group.errors()) + (f" ({note})" if note else "")
            lines.append(
                f"| {case} | {target} | {fmt(tput, 0)} | {fmt(group.spread(), 0, '%')} "
                f"| {fmt(group.median('p50_ms'), 3)} | {fmt(group.median('p99_ms'), 3)} "
                f"| {fmt(group.median('proxy_cpu_us'), 1)} | {fmt(percent(group.median('proxy_kernel_share')), 0)} "
                f"| {fmt(group.median('backend_cpu_us'), 1)} | {fmt(percent(group.median('machine_busy_share')), 0)} "
                f"| {fmt(vs_direct, 2, 'x')} | {fmt(vs_ref, 2, 'x')} | {errors} |")
    return lines


def tls_table(records):
    """TLS against plain: each "+tls" target next to its plain twin, paired by round."""
    cases = grouped(records, "tls")
    if not cases:
        return []
    lines = [
        "| benchmark | target | requests or queries/s (median) | spread | p50 ms | p99 ms | proxy CPU µs/req "
        "| backend CPU µs/req | vs plain | errors |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for case, targets in cases.items():
        for target in SUITE_TARGETS["tls"]:
            group = targets.get(target)
            if group is None:
                continue
            if not group.ok:
                lines.append(f"| {case} | {target} | {target}: failed ({group.failures[0]['reason']}) | | | | | | | |")
                continue
            plain = targets.get(target[: -len("+tls")]) if target.endswith("+tls") else None
            note = group.failure_text()
            errors = str(group.errors()) + (f" ({note})" if note else "")
            lines.append(
                f"| {case} | {target} | {fmt(group.median('throughput'), 0)} | {fmt(group.spread(), 0, '%')} "
                f"| {fmt(group.median('p50_ms'), 3)} | {fmt(group.median('p99_ms'), 3)} "
                f"| {fmt(group.median('proxy_cpu_us'), 1)} | {fmt(group.median('backend_cpu_us'), 1)} "
                f"| {fmt(paired(group, plain, 'throughput'), 2, 'x')} | {errors} |")
    return lines


def cluster_table(records):
    """Redis Cluster: corral against redis-benchmark --cluster (direct), paired by round."""
    cases = grouped(records, "cluster")
    if not cases:
        return []
    lines = [
        "| benchmark | target | requests/s (median) | spread | p50 ms | p99 ms | proxy CPU µs/req "
        "| backend CPU µs/req (3 masters) | machine busy % | vs direct | errors |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for case, targets in cases.items():
        direct = targets.get("direct")
        for target in SUITE_TARGETS["cluster"]:
            group = targets.get(target)
            if group is None:
                continue
            if not group.ok:
                lines.append(f"| {case} | {target} | {target}: failed ({group.failures[0]['reason']}) | | | | | | | | |")
                continue
            vs_direct = paired(group, direct, "throughput") if target != "direct" else None
            note = group.failure_text()
            errors = str(group.errors()) + (f" ({note})" if note else "")
            lines.append(
                f"| {case} | {target} | {fmt(group.median('throughput'), 0)} | {fmt(group.spread(), 0, '%')} "
                f"| {fmt(group.median('p50_ms'), 3)} | {fmt(group.median('p99_ms'), 3)} "
                f"| {fmt(group.median('proxy_cpu_us'), 1)} | {fmt(group.median('backend_cpu_us'), 1)} "
                f"| {fmt(percent(group.median('machine_busy_share')), 0)} | {fmt(vs_direct, 2, 'x')} | {errors} |")
    return lines


def idle_table(records):
    rows = [r for r in records if r["suite"] == "idle"]
    if not rows:
        return []
    lines = [
        "| probe | target | clients | RSS before MiB | RSS after MiB | KiB per client | backend connections |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        if not r["ok"]:
            lines.append(f"| {r['case']} | {r['target']} | {r['clients']:,} "
                         f"| {r['target']}: failed ({r['reason']}) | | | |")
            continue
        lines.append(
            f"| {r['case']} | {r['target']} | {r['clients']:,} | {r['rss_before_kib'] / 1024:,.1f} "
            f"| {r['rss_after_kib'] / 1024:,.1f} "
            f"| {(r['rss_after_kib'] - r['rss_before_kib']) / r['clients']:.2f} "
            f"| {r['backend_connections']} |")
    return lines


# --- issue 5's targets -----------------------------------------------------------------------------


class Check:
    """One target of issue 5: every (label, value, bound) comparison it needs, or why one is missing."""

    def __init__(self, title):
        self.title = title
        self.parts = []
        self.missing = []

    def at_least(self, label, value, bound):
        self.compare(label, value, bound, value is not None and value >= bound, "≥")

    def at_most(self, label, value, bound):
        self.compare(label, value, bound, value is not None and value <= bound, "≤")

    def compare(self, label, value, bound, met, sign):
        if value is None:
            self.missing.append(label)
            return
        shown = str(value) if isinstance(value, int) else f"{value:.2f}"
        self.parts.append((met, f"{label} {shown} ({sign} {bound:g})"))

    def line(self):
        if not all(met for met, _ in self.parts):
            verdict = "**NOT met**"
        elif self.missing:
            verdict = "**no result**"
        else:
            verdict = "met"
        details = [("" if met else "✗ ") + text for met, text in self.parts]
        details += [f"✗ {label}: no result" for label in self.missing]
        return f"| {self.title} | {verdict} | {'; '.join(details)} |"


def redis_checks(records):
    cases = grouped(records, "redis")
    unpipelined = [c for c in cases if c.endswith("-P 1")]
    pipelined = [c for c in cases if c.endswith("-P 16")]

    def versus(case, target, key="throughput", combine=ratio):
        return paired(cases[case].get("corral"), cases[case].get(target), key, combine)

    vs_twem = Check("Redis -P 1, GET and SET: corral ≥ 1.15x twemproxy")
    vs_direct = Check("Redis -P 1, GET and SET: corral ≥ 1.0x direct")
    for case in unpipelined:
        vs_twem.at_least(case, versus(case, "twemproxy"), 1.15)
        vs_direct.at_least(case, versus(case, "direct"), 1.0)
    p16_direct = Check("Redis -P 16: corral ≥ 0.85x direct")
    p16_twem = Check("Redis -P 16: corral ≥ 1.4x twemproxy")
    for case in pipelined:
        p16_direct.at_least(case, versus(case, "direct"), 0.85)
        p16_twem.at_least(case, versus(case, "twemproxy"), 1.4)
    cpu = Check("corral CPU per unpipelined request ≤ 0.5x twemproxy's")
    for case in unpipelined:
        cpu.at_most(case, versus(case, "twemproxy", "proxy_cpu_us"), 0.5)
    latency = Check("corral p50 at -c 50 -P 1 within 0.1 ms of direct (ms added)")
    for case in unpipelined:
        if "-c 50 " in case:
            latency.at_most(case, versus(case, "direct", "p50_ms", difference), 0.1)
    return [vs_twem, vs_direct, p16_direct, p16_twem, cpu, latency]


def mysql_checks(records):
    cases = grouped(records, "mysql")

    def group(case, target):
        return cases.get(case, {}).get(target)

    def scaling(case, target):
        """{round: throughput at 256 threads / throughput at 16} of one target."""
        at_16 = {r["round"]: r.get("throughput") for r in group(case.replace(" t256", " t16"), target).ok}
        return {r["round"]: ratio(r.get("throughput"), at_16.get(r["round"])) for r in group(case, target).ok}

    def scaling_versus_direct(case):
        """Median over rounds of corral's 256/16-thread ratio over direct's in the same round: what
        sysbench's own 256 threads cost on this machine is taken out of corral's figure."""
        if group(case, "direct") is None or group(case.replace(" t256", " t16"), "direct") is None:
            return None
        direct = scaling(case, "direct")
        values = [ratio(value, direct.get(round_)) for round_, value in scaling(case, "corral").items()]
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    point = Check("MySQL oltp_point_select 16 threads: corral ≥ 1.2x haproxy")
    read_only = Check("MySQL oltp_read_only 16 threads: corral ≥ 1.1x haproxy")
    pool = Check("MySQL 256 threads, 16-connection pool: zero errors, ≥ 0.9x corral at 16 threads")
    relative = Check("MySQL 256 threads: corral's 256/16-thread ratio ≥ 0.9x direct's (sysbench's own cost out)")
    for case in cases:
        corral = group(case, "corral")
        if " t16" in case:
            check, bound = (point, 1.2) if case.startswith("point_select") else (read_only, 1.1)
            check.at_least(case, paired(corral, group(case, "haproxy"), "throughput"), bound)
        elif " t256" in case:
            if corral is None:
                pool.missing.append(case)
                continue
            # A round that failed ended on an error sysbench does not ignore: it counts as one.
            pool.at_most(f"{case} errors + failed rounds", corral.errors() + len(corral.failures), 0)
            pool.at_least(case, paired(corral, group(case.replace(" t256", " t16"), "corral"), "throughput"), 0.9)
            relative.at_least(case, scaling_versus_direct(case), 0.9)
    return [point, read_only, pool, relative]


def idle_checks(records, workers):
    rss = Check("Idle clients: ≤ 4 KiB of corral RSS per client (KiB)")
    backends = Check(f"Idle Redis clients on ≤ 2 backend connections per worker ({workers} worker(s))")
    for r in records:
        if r["suite"] != "idle" or r["target"] != "corral":
            continue
        label = f"{r['protocol']} {r['clients']:,} clients"
        if not r["ok"]:
            rss.missing.append(f"{label} ({r['reason']})")
            if r["protocol"] == "redis":
                backends.missing.append(f"{label} ({r['reason']})")
            continue
        rss.at_most(label, (r["rss_after_kib"] - r["rss_before_kib"]) / r["clients"], 4)
        if r["protocol"] == "redis":
            backends.at_most(label, r["backend_connections"], 2 * workers)
    return [rss, backends]


def command_report(args):
    records = load(args.raw)
    out = []
    if args.title:
        out += [f"## {args.title}", ""]
    if args.machine:
        out += [read(args.machine).rstrip(), ""]
    sections = [
        ("Redis (redis-benchmark)", throughput_table(records, "redis", "requests/s")),
        ("MySQL (sysbench)", throughput_table(records, "mysql", "queries/s")),
        ("Idle connections", idle_table(records)),
        ("TLS against plain (client to first hop; corral's backend connections plain)", tls_table(records)),
        ("Redis Cluster, 3 masters: corral against redis-benchmark --cluster (direct)", cluster_table(records)),
    ]
    for title, lines in sections:
        if lines:
            out += [f"### {title}", ""] + lines + [""]
    checks = redis_checks(records) + mysql_checks(records) + idle_checks(records, args.workers)
    checks = [c for c in checks if c.parts or c.missing]
    if checks:
        out += ["### Issue 5 targets", "", "| target | verdict | measured (median of per-round ratios unless stated) |",
                "|---|---|---|"]
        out += [c.line() for c in checks] + [""]
    print("\n".join(out))


# --- command line ----------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def run_parser(name):
        p = sub.add_parser(name)
        p.add_argument("raw")
        p.add_argument("output")
        p.add_argument("--case", required=True)
        p.add_argument("--target", required=True)
        p.add_argument("--round", type=int, required=True)
        p.add_argument("--rc", type=int, required=True)
        p.add_argument("--clk-tck", type=int, required=True)
        p.add_argument("--proxy-ticks", type=int, required=True)
        p.add_argument("--proxy-sys-ticks", type=int, required=True)
        p.add_argument("--backend-ticks", type=int, required=True)
        p.add_argument("--busy-ticks", type=int, required=True)
        p.add_argument("--total-ticks", type=int, required=True)
        p.add_argument("--suite", choices=["tls", "cluster"], help="record under this suite instead of the tool's own")
        return p

    run_parser("redis").add_argument("--requests", type=int, required=True)
    run_parser("sysbench")

    failed = sub.add_parser("failed")
    failed.add_argument("raw")
    for name in ("suite", "case", "target", "reason"):
        failed.add_argument(f"--{name}", required=True)
    failed.add_argument("--round", type=int, required=True)

    idle = sub.add_parser("idle")
    idle.add_argument("raw")
    for name in ("case", "target", "protocol"):
        idle.add_argument(f"--{name}", required=True)
    for name in ("clients", "workers"):
        idle.add_argument(f"--{name}", type=int, required=True)
    idle.add_argument("--reason")
    for name in ("rss-before", "rss-after", "backend-connections"):
        idle.add_argument(f"--{name}", type=int)

    report = sub.add_parser("report")
    report.add_argument("raw")
    report.add_argument("--workers", type=int, required=True)
    report.add_argument("--title")
    report.add_argument("--machine")

    args = parser.parse_args()
    if args.command == "report":
        command_report(args)
        return
    commands = {"redis": command_redis, "sysbench": command_sysbench, "failed": command_failed,
                "idle": command_idle}
    record = commands[args.command](args)
    with open(args.raw, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
    if not record["ok"]:
        print(f"{record['target']}: failed ({record['reason']})", file=sys.stderr)


if __name__ == "__main__":
    main()

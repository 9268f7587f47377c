#!/usr/bin/env python3
"""Runs Redis's own test suite (tests/ of Debian 12's redis source package, runtest in external-server
mode) against a bare redis-server and against corral in front of one, unit by unit, and compares.

    tests/compat/redis_compat.py --corral build/release/proxy/corral [--units unit/multi unit/keyspace]
    tests/compat/redis_compat.py --corral ... --subset          # tests/compat/redis/subset.txt
    tests/compat/redis_compat.py --corral ... --write-baseline  # refresh redis/baseline-direct.tsv

Each unit runs twice, each time on a fresh redis-server (and a fresh corral) on free loopback ports,
so no state a unit leaves behind (CONFIG, ACL, a script still running) reaches the next one. The
servers get the settings Redis's own external-server CI uses (debug and module commands enabled, no
persistence).

Verdict, per test: a test that passes direct and not through corral fails the run unless
redis/expected-failures.tsv lists it with a reason; a listed test that passes is reported so the list
can shrink. Direct results that differ from redis/baseline-direct.tsv are reported (the environment
changed). Reports go to WORK/report.md and WORK/results.tsv. Exit status: 0 when nothing regressed,
1 otherwise, 2 for a usage or set-up error. Standard library only.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from compat_common import compare, free_port, read_tsv, start_corral, stop, wait_for_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")
LINE = re.compile(r"^\[(ok|err|skip|ignore|exception)\]: (.*)$")
UNIT_TIMEOUT_S = 900
SERVER_ARGS = ["--save", "", "--appendonly", "no", "--enable-debug-command", "yes",
               "--enable-protected-configs", "yes", "--enable-module-command", "yes"]


def start_redis(work):
    port = free_port()
    data = work / f"redis-{port}"
    data.mkdir(parents=True, exist_ok=True)
    log = open(data / "redis.log", "w")
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
                                *SERVER_ARGS], stdout=log, stderr=subprocess.STDOUT)
    wait_for_port(port, process, "redis-server")
    return process, port


def parse_runtest(output):
    """[(test name, status, detail)] in the order runtest reported them; detail is the first line of
    an error. An exception ends the unit: the tests after it are missing, with its message."""
    results = []
    lines = [ANSI.sub("", raw).rstrip() for raw in output.splitlines()]
    for i, line in enumerate(lines):
        match = LINE.match(line)
        if not match:
            continue
        status, data = match.groups()
        detail = ""
        if status == "ok":
            data = re.sub(r" \(\d+ ms\)$", "", data)
        elif status == "err":
            data = re.sub(r" in tests/\S+\.tcl$", "", data)
            detail = next((l.strip() for l in lines[i + 1:] if l.strip()), "").replace("\t", " ")
        elif status == "exception":
            detail = data.removeprefix("Executing test client: ").replace("\t", " ")
            data = "(unit aborted)"
        # Ports differ from run to run; the reasons recorded in expected-failures.tsv should not.
        detail = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", detail)
        results.append((data, status, detail))
    return results


def numbered(results):
    """Keys tests by name, numbering repeated names (#2, #3...) in the order they ran:
    {name: (status, detail)}; the tests an exception cut off are found missing by compare()."""
    seen = {}
    keyed = {}
    for name, status, detail in results:
        seen[name] = seen.get(name, 0) + 1
        key = name if seen[name] == 1 else f"{name} #{seen[name]}"
        keyed[key] = (status, detail)
    return keyed


def read_exclusions(path):
    """runtest options for redis/excluded.tsv: 'tag<TAB>needs:x<TAB>reason' deselects a tag in every
    unit, 'test<TAB>unit/x<TAB>name<TAB>reason' skips one test of one unit. Both runs get the same."""
    tags, tests = [], {}
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if fields[0] == "tag" and len(fields) == 3:
            tags.append("-" + fields[1])
        elif fields[0] == "test" and len(fields) == 4:
            tests.setdefault(fields[1], []).append(fields[2])
        else:
            raise SystemExit(f"{path}: not 'tag NAME REASON' or 'test UNIT NAME REASON': {line!r}")
    return tags, tests


def runtest_options(unit, exclusions):
    tags, tests = exclusions
    options = ["--tags", " ".join(tags)] if tags else []
    for name in tests.get(unit, []):
        options += ["--skiptest", name]
    return options


def log_path(work, unit, target):
    return work / "logs" / f"{unit.replace('/', '_')}-{target}.log"


def run_unit(source, unit, work, corral_binary, exclusions):
    """{test: (status, detail)} of one unit against a fresh server, through corral when corral_binary
    is set. The runtest output is kept in WORK/logs/."""
    redis, redis_port = start_redis(work)
    corral = None
    try:
        port = redis_port
        if corral_binary is not None:
            corral, port = start_corral(corral_binary, work, "redis", f"redis://127.0.0.1:{redis_port}")
        command = ["./runtest", "--host", "127.0.0.1", "--port", str(port), "--single", unit,
                   "--timeout", "120", "--clients", "1", *runtest_options(unit, exclusions)]
        try:
            done = subprocess.run(command, cwd=source, capture_output=True, text=True, errors="replace",
                                  timeout=UNIT_TIMEOUT_S)
            output = done.stdout + done.stderr
        except subprocess.TimeoutExpired as expired:
            output = (expired.stdout or b"").decode(errors="replace") + "\n[exception]: unit timed out\n"
        target = "corral" if corral_binary is not None else "direct"
        (work / "logs").mkdir(exist_ok=True)
        log_path(work, unit, target).write_text(output)
        return numbered(parse_runtest(output))
    finally:
        stop(corral)
        stop(redis)


def all_units(source):
    text = (source / "tests" / "test_helper.tcl").read_text()
    block = re.search(r"set ::all_tests \{(.*?)\}", text, re.S)
    return block.group(1).split()


def prepare_source(work):
    tree = subprocess.run([str(HERE / "fetch_source.sh"), "redis", str(work)], check=True,
                          capture_output=True, text=True).stdout.strip()
    source = Path(tree)
    # Some tests run the tools from src/, as in a built source tree: the Debian binaries stand in.
    (source / "src").mkdir(exist_ok=True)
    for tool in ("redis-server", "redis-cli", "redis-benchmark", "redis-check-aof", "redis-check-rdb"):
        link = source / "src" / tool
        found = shutil.which(tool)
        if found and not link.exists():
            link.symlink_to(found)
    return source


def unit_abort(results):
    """The message of the exception that ended a unit early, or ''."""
    return next((detail for status, detail in results.values() if status == "exception"), "")


def outcome(results, name):
    """(status, detail) of one test; a test the run never reached is missing, with the reason."""
    if name in results:
        return results[name]
    abort = unit_abort(results)
    return "missing", f"unit aborted: {abort}" if abort else "not run"


def rewrite_tsv(path, header, chosen, old, new):
    """Writes `path` as `old` with the rows of the units in `chosen` replaced by `new`."""
    kept = {k: v for k, v in old.items() if k[0] not in chosen}
    kept.update(new)
    path.write_text(header + "".join(f"{u}\t{n}\t{v}\n" for (u, n), v in sorted(kept.items())))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corral", default=str(ROOT / "build/release/proxy/corral"))
    parser.add_argument("--work", default=str(ROOT / "build/compat/redis"))
    units = parser.add_mutually_exclusive_group()
    units.add_argument("--units", nargs="+")
    units.add_argument("--subset", action="store_true", help="the units of redis/subset.txt")
    parser.add_argument("--from-logs", action="store_true",
                        help="compare the runtest logs a previous run left in WORK/logs instead of running")
    parser.add_argument("--write-baseline", action="store_true",
                        help="record the direct results of the chosen units in redis/baseline-direct.tsv")
    parser.add_argument("--write-expected", action="store_true",
                        help="record the chosen units' failures through corral in redis/expected-failures.tsv, "
                             "keeping the reasons already written there")
    args = parser.parse_args()

    binary = Path(args.corral).resolve()
    if not os.access(binary, os.X_OK):
        print(f"corral binary {binary} is missing: build it first (scripts/build.sh release)", file=sys.stderr)
        return 2
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    source = prepare_source(work.parent)
    if args.units:
        chosen = args.units
    elif args.subset:
        lines = (HERE / "redis" / "subset.txt").read_text().splitlines()
        chosen = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    else:
        chosen = all_units(source)
    unknown = [u for u in chosen if u not in all_units(source)]
    if unknown:
        print(f"not units of Redis's test suite: {' '.join(unknown)}", file=sys.stderr)
        return 2

    exclusions = read_exclusions(HERE / "redis" / "excluded.tsv")
    direct, corral = {}, {}
    for unit in chosen:
        started = time.monotonic()
        if args.from_logs:
            logs = [log_path(work, unit, target) for target in ("direct", "corral")]
            if not all(log.exists() for log in logs):
                print(f"no logs of {unit} in {work / 'logs'}: run it first", file=sys.stderr)
                return 2
            direct[unit], corral[unit] = (numbered(parse_runtest(log.read_text())) for log in logs)
        else:
            direct[unit] = run_unit(source, unit, work, None, exclusions)
            corral[unit] = run_unit(source, unit, work, binary, exclusions)
        ok_direct = sum(st == "ok" for st, _ in direct[unit].values())
        ok_both = sum(st == "ok" and outcome(corral[unit], n)[0] == "ok" for n, (st, _) in direct[unit].items())
        print(f"{unit}: {ok_direct} pass direct, {ok_both} of them through corral "
              f"({time.monotonic() - started:.0f}s)", flush=True)

    expected_path = HERE / "redis" / "expected-failures.tsv"
    expected = read_tsv(expected_path, 3)
    baseline_path = HERE / "redis" / "baseline-direct.tsv"
    baseline = read_tsv(baseline_path, 3)
    report, rows, regressions = compare("Redis test suite through corral", "redis", chosen, direct, corral,
                                        expected, baseline, outcome=outcome)
    (work / "results.tsv").write_text("unit\ttest\tdirect\tcorral\tcorral detail\n" +
                                      "".join("\t".join(row) + "\n" for row in rows))
    (work / "report.md").write_text("\n".join(report) + "\n")
    print("\n".join(report))
    if args.write_baseline:
        rewrite_tsv(baseline_path, "# unit\ttest\tresult against a bare redis-server (redis_compat.py --write-baseline)\n",
                    chosen, baseline, {(u, n): d for u, n, d, _, _ in rows})
    if args.write_expected:
        failing = {(u, n): expected.get((u, n), f"{c}: {detail}"[:200]) for u, n, d, c, detail in rows
                   if d == "ok" and c != "ok"}
        rewrite_tsv(expected_path, "# unit\ttest\twhy it fails through corral (redis_compat.py --write-expected)\n",
                    chosen, expected, failing)
        return 0
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())

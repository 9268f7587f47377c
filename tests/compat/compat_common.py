"""What redis_compat.py and mysql_compat.py share: free loopback ports, starting and stopping servers,
the TSV files under tests/compat/<peer>/, and the direct-versus-corral comparison and its report.

Results are {group: {test: status}}, a group being what the suite calls a unit (Redis) or a protocol
mode (MySQL). A test "passes" when its status is the suite's pass status. Standard library only.
"""

import signal
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, what, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode} while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{what} did not listen on port {port} within {seconds}s")


def stop(process):
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def corral_config(port, protocol, backend, extra="", auth=None):
    """corral.toml text for one listener on 127.0.0.1:port in front of `backend`; `extra` is appended
    (e.g. [[users]] for a mysql listener); `auth` is the listener's (default: users for mysql, none
    for redis)."""
    auth = auth or ("users" if protocol == "mysql" else "none")
    return f"""[server]
workers = 1
log_level = "warn"

[[listeners]]
name = "{protocol}"
protocol = "{protocol}"
address = "127.0.0.1:{port}"
backend = "{backend}"
auth = "{auth}"
""" + extra


def start_corral(binary, work, protocol, backend, extra="", auth=None):
    """(process, port) of a corral listening on a free port in front of `backend`."""
    port = free_port()
    config = work / f"corral-{port}.toml"
    config.write_text(corral_config(port, protocol, backend, extra, auth))
    log = open(work / f"corral-{port}.log", "w")
    process = subprocess.Popen([str(binary), "--config", str(config)], stdout=log, stderr=subprocess.STDOUT)
    wait_for_port(port, process, "corral")
    return process, port


def read_tsv(path, columns):
    """{(field 1, field 2): field 3 (or '' when columns == 2)}; '#' lines are comments."""
    rows = {}
    if not path.exists():
        return rows
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < columns:
            raise SystemExit(f"{path}: expected {columns} tab-separated fields: {line!r}")
        rows[(fields[0], fields[1])] = fields[2] if columns > 2 else ""
    return rows


def plain_outcome(results, name):
    """(status, detail) of one test of a group whose results are {test: status}."""
    return results.get(name, "missing"), ""


def compare(title, peer, groups, direct, corral, expected, baseline, ok="ok", outcome=plain_outcome):
    """(report lines, rows, regressions) comparing the two runs, the expected failures and the baseline.

    rows are (group, test, direct status, corral status, corral detail) in the order the tests ran;
    `outcome(results, test)` gives a test's (status, detail) in one group's results. A regression is a
    test whose direct status is `ok` and whose corral status is not, unless `expected` lists it.
    `peer` names the folder of the lists (redis, mysql) in the report.
    """
    regressions, fixed, known, drift = [], [], [], []
    rows = []
    passed = {"direct": 0, "corral": 0}
    for group in groups:
        names = list(direct[group]) + [n for n in corral[group] if n not in direct[group]]
        for name in names:
            d, _ = outcome(direct[group], name)
            c, detail = outcome(corral[group], name)
            rows.append((group, name, d, c, detail))
            passed["direct"] += d == ok
            passed["corral"] += d == ok and c == ok
            reason = expected.get((group, name))
            if d == ok and c != ok:
                (known if reason is not None else regressions).append((group, name, c, reason or detail))
            elif reason is not None and c == ok:
                fixed.append((group, name))
            if (group, name) in baseline and baseline[(group, name)] != d:
                drift.append((group, name, baseline[(group, name)], d))
    noun = "units" if peer == "redis" else "modes"
    report = [f"# {title}", "",
              f"{noun}: {len(groups)}; tests passing direct: {passed['direct']}; "
              f"of those passing through corral: {passed['corral']}; "
              f"known failures: {len(known)}; unexpected failures: {len(regressions)}; "
              f"listed but now passing: {len(fixed)}", ""]
    for heading, items in (("Unexpected failures through corral", regressions),
                           (f"Known failures ({peer}/expected-failures.tsv)", known)):
        report += [f"## {heading}", ""]
        report += [f"- {g}: {n}: {c}" + (f" ({r})" if r else "") for g, n, c, r in items] or ["none"]
        report.append("")
    report += ["## Listed as failing but passing now (remove from the list)", ""]
    report += [f"- {g}: {n}" for g, n in fixed] or ["none"]
    report += ["", f"## Direct results that differ from {peer}/baseline-direct.tsv", ""]
    report += [f"- {g}: {n}: baseline {b}, now {d}" for g, n, b, d in drift] or ["none"]
    return report, rows, regressions

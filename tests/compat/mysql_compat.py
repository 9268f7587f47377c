#!/usr/bin/env python3
"""Runs MariaDB's own tests (Debian 12's mariadb-test package: mysql-test-run's `main` suite in
--extern mode, with the text protocol and with --ps-protocol, and mariadb-client-test function by
function) against a bare mariadbd and against corral in front of one, and compares.

    tests/compat/mysql_compat.py                         # the whole main suite, both protocols, client test
    tests/compat/mysql_compat.py --subset                # tests/compat/mysql/subset.txt (scripts/test.sh)
    tests/compat/mysql_compat.py --tests main.select main.join --modes text
    tests/compat/mysql_compat.py --every 2 --start 1     # every other test of main (a sample)
    tests/compat/mysql_compat.py --write-baseline        # refresh mysql/baseline-direct.tsv

Modes: `text` (mtr --extern), `ps` (the same with --ps-protocol) and `client-test`
(mariadb-client-test, one process per test function). Each mode runs twice, direct and through
corral, on fresh mariadbds (copies of one bootstrapped datadir) on free loopback ports; mtr's tests
go in chunks of 50, each chunk on a fresh server (and a fresh corral), since mtr does not clean up
after a failed test against an --extern server and some tests leave it unusable. The servers get the settings mtr gives its own (include/
default_mysqld.cnf, plus the general and slow logs, the error log where tests look for it, and
secure-file-priv at mtr's vardir) and the datadir mtr's bootstrap makes (the `mtr` schema with its
check procedures, `test`, the time zone test data). A server that exits during a run (a test that
shuts it down expecting mtr to restart it) is restarted with the same settings, and counted.

Verdict, per test: a test that passes direct and not through corral fails the run unless
mysql/expected-failures.tsv lists it (mode, test, reason); a listed test that passes is reported so
the list can shrink. Direct results that differ from mysql/baseline-direct.tsv are reported (the
environment changed). Reports go to WORK/report.md and WORK/results.tsv; each run's output is in
WORK/logs/. Exit status: 0 when nothing regressed, 1 otherwise, 2 for a usage or set-up error.
Standard library only.
"""

import argparse
import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from compat_common import compare, free_port, read_tsv, start_corral, stop, wait_for_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MTR_DIR = Path("/usr/share/mysql/mysql-test")
SHARE = Path("/usr/share/mysql")
MODES = ("text", "ps", "client-test")
# One mtr result line: "main.alias   [ pass ]    887", "main.x   [ skipped ]  Requires debug build".
RESULT = re.compile(r"^(\w+\.[\w-]+)(?: '([^']*)')?\s+(?:w\d+\s+)?\[ (pass|fail|skipped|disabled|retry-pass|retry-fail) \]\s*(.*)$")
STATUS = {"pass": "pass", "retry-pass": "pass", "fail": "fail", "retry-fail": "fail",
          "skipped": "skipped", "disabled": "disabled"}
REASON_LENGTH = 160
CLIENT_TEST_TIMEOUT_S = 120


class MariaDB:
    """A mariadbd on a free loopback port with mtr's settings, restarted if it exits while running.

    Lifetime: stop() ends the watchdog before the server, so nothing restarts it afterwards."""

    def __init__(self, datadir, vardir):
        self.vardir = vardir
        self.port = free_port()
        self.restarts = 0
        self.process = None
        self._stopping = threading.Event()
        for sub in ("log", "tmp", "run", "mysqld.1"):
            (vardir / sub).mkdir(parents=True, exist_ok=True)
        self.datadir = datadir
        self.config = vardir / "mysqld.1" / "server.cnf"  # vardir/my.cnf is mtr's, rewritten by each run
        self.config.write_text(server_config(datadir, vardir, self.port))

    def start(self):
        self._spawn()
        self._watchdog = threading.Thread(target=self._watch, daemon=True)
        self._watchdog.start()
        return self

    def _spawn(self):
        log = open(self.vardir / "log" / "mysqld.1.out", "a")
        self.process = subprocess.Popen(["mariadbd", f"--defaults-file={self.config}"],
                                        stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.process, "mariadbd", seconds=60)

    def _watch(self):
        while not self._stopping.wait(0.5):
            if self.process.poll() is not None and not self._stopping.is_set():
                self.restarts += 1
                try:
                    self._spawn()
                except RuntimeError as error:
                    print(f"mariadbd on port {self.port} did not restart: {error}", file=sys.stderr)
                    return

    def stop(self):
        self._stopping.set()
        if hasattr(self, "_watchdog"):
            self._watchdog.join()
        stop(self.process)


def server_config(datadir, vardir, port):
    """mtr's [mysqld] defaults (include/default_mysqld.cnf) and what its ConfigFactory adds for
    mysqld.1, with this server's paths and port."""
    defaults = (MTR_DIR / "include" / "default_mysqld.cnf").read_text()
    defaults = defaults.replace("@ENV.MYSQLTEST_VARDIR", str(vardir)).replace("@ENV.MYSQL_TEST_DIR", str(MTR_DIR))
    return defaults + f"""
[mysqld]
user=root
port={port}
bind-address=127.0.0.1
socket={vardir}/tmp/mysqld.1.sock
datadir={datadir}
tmpdir={vardir}/tmp
pid-file={vardir}/run/mysqld.1.pid
log-error={vardir}/log/mysqld.1.err
general-log=1
general-log-file={vardir}/mysqld.1/mysqld.log
slow-query-log=1
slow-query-log-file={vardir}/mysqld.1/mysqld-slow.log
server-id=1
log-output=file
"""


def mtr_sql(name):
    """include/NAME in the mariadb client's syntax: mysqltest's 'delimiter ||;' becomes 'DELIMITER ||',
    '--' comment lines go (as mtr's sql_to_bootstrap does)."""
    lines = []
    delimiter = ";"
    for line in (MTR_DIR / "include" / name).read_text().splitlines():
        match = re.match(r"^delimiter (.*)$", line)
        if match:
            new = match.group(1)
            if new.endswith(delimiter):
                new = new[:-len(delimiter)]
            delimiter = new
            lines.append(f"DELIMITER {new}")
        elif re.match(r"^\s*--", line):
            continue  # mysqltest comments; SQL wants a space after "--", which some lack
        else:
            lines.append(line)
    return "\n".join(lines) + "\nDELIMITER ;\n"


def bootstrap(template):
    """A datadir like mtr's install.db: system tables, root without a password, the mtr schema
    (warning suppressions, check_testcase), `test` and the time zone test data."""
    if (template / "ready").exists():
        return
    shutil.rmtree(template, ignore_errors=True)
    datadir = template / "data"
    subprocess.run(["mariadb-install-db", "--no-defaults", "--user=root", f"--datadir={datadir}",
                    "--auth-root-authentication-method=normal", "--skip-test-db"],
                   check=True, capture_output=True)
    server = MariaDB(datadir, template / "var")
    server._spawn()
    try:
        sql = ("DELETE FROM mysql.global_priv WHERE user = '';\nFLUSH PRIVILEGES;\n"
               "CREATE DATABASE mtr CHARSET=latin1;\n" + mtr_sql("mtr_warnings.sql") + mtr_sql("mtr_check.sql") +
               "USE mysql;\n" + (SHARE / "mysql_test_data_timezone.sql").read_text() +
               "\nCREATE DATABASE IF NOT EXISTS test CHARACTER SET latin1 COLLATE latin1_swedish_ci;\n"
               "ALTER TABLE mysql.gtid_slave_pos ENGINE=Aria transactional=0;\n")
        done = subprocess.run(["mariadb", "--no-defaults", "-h127.0.0.1", f"-P{server.port}", "-uroot"],
                              input=sql, text=True, capture_output=True)
        if done.returncode != 0:
            raise RuntimeError(f"bootstrapping {template}: {done.stderr.strip()}")
    finally:
        stop(server.process)
    (template / "ready").write_text("")


def prepare_tree(work):
    """A private mysql-test tree, a copy made of symlinks: mtr writes .reject files beside the .result
    files, which must not land in /usr/share. mtr finds its programs, charsets and plugins from the
    folders above its own, so the copy sits in WORK/usr/share/mysql/ among links to /usr's."""
    usr = work / "usr"
    tree = usr / "share" / "mysql" / "mysql-test"
    if (tree / "mariadb-test-run.pl").exists():
        return tree
    shutil.rmtree(usr, ignore_errors=True)
    for real, copy in ((Path("/usr"), usr), (Path("/usr/share"), usr / "share"), (SHARE, usr / "share" / "mysql")):
        copy.mkdir(parents=True, exist_ok=True)
        for entry in real.iterdir():
            if not (copy / entry.name).exists() and entry.name not in ("share", "mysql", "mysql-test"):
                (copy / entry.name).symlink_to(entry)
    subprocess.run(["cp", "-rs", str(MTR_DIR), str(tree)], check=True)
    return tree


def failure_reason(tail, block):
    """One line saying why a test failed: mtr's own words on the result line (a timeout), else
    mysqltest's error, else the first lines of the result diff."""
    if tail and not re.fullmatch(r"\d+", tail):
        return shorten(tail)
    for i, line in enumerate(block):
        if line.startswith("mysqltest: "):
            return shorten(mysqltest_error(block[i:]))
    minus = next((l for l in block if l.startswith("-") and not l.startswith("---")), None)
    plus = next((l for l in block if l.startswith("+") and not l.startswith("+++")), None)
    if minus or plus:
        return shorten(f"result differs: {minus or ''} {plus or ''}".strip())
    for line in block:
        if line.strip() and not line.strip().startswith(("Test ended", "- saving")):
            return shorten(line.strip())
    return "failed"


def mysqltest_error(lines):
    """mysqltest's error message (it runs until an empty line) without the include chain, the line
    number, and most of a long query, so that the error itself fits in the reason."""
    message = []
    for line in lines:
        if not line.strip():
            break
        message.append(line.strip())
    text = " ".join(message)[len("mysqltest: "):]
    text = re.sub(r'In included file "[^"]*":\s*', "", text)
    text = re.sub(r"included from \S+ at line \d+:\s*", "", text)
    text = re.sub(r"^At line \d+:\s*", "", text)
    match = re.match(r"^(query|command|exec of) '(.*)' ((?:failed|succeeded).*)$", text)
    if match and len(match.group(2)) > 40:
        text = f"{match.group(1)} '{match.group(2)[:37]}...' {match.group(3)}"
    return text


def shorten(text):
    text = " ".join(text.replace("\t", " ").split())
    return text if len(text) <= REASON_LENGTH else text[:REASON_LENGTH - 3] + "..."


def parse_mtr(output):
    """{test: (status, why)} from mtr's output; why is empty for a pass."""
    results = {}
    lines = output.splitlines()
    current = None
    block = []

    def close():
        if current is not None:
            name, status, tail = current
            if status == "fail":
                results[name] = (status, failure_reason(tail, block))
            elif status == "pass":
                results[name] = (status, "")
            else:
                results[name] = (status, shorten(tail) or status)

    for line in lines:
        match = RESULT.match(line.rstrip())
        if match:
            close()
            name, combination, status, tail = match.groups()
            if combination:
                name = f"{name} '{combination}'"
            current, block = (name, STATUS[status], tail.strip()), []
        elif current is not None:
            if line.startswith("-----") or line.startswith("The servers were restarted"):
                close()
                current = None
            else:
                block.append(line)
    close()
    return results


def run_mtr(tree, target, mode, work, tests, corral_binary, timeout_min, chunk, label=""):
    """({test: (status, why)}, follow-ons) of mtr --extern runs over `tests`, `chunk` tests at a time,
    each chunk on a fresh server (and through a fresh corral when corral_binary is set): a test that
    leaves the server broken (root's password changed, a crash) spoils at most the rest of its chunk.
    The follow-ons are the tests that may have been spoiled so (see follow_ons())."""
    results = {}
    spoiled = set()
    started = time.monotonic()
    restarts = 0
    for first in range(0, len(tests), chunk):
        part = tests[first:first + chunk]
        number = first // chunk + 1
        chunk_results, chunk_restarts = run_mtr_chunk(tree, target, mode, work, part, corral_binary, timeout_min,
                                                      f"{label}{number:03d}")
        results.update(chunk_results)
        spoiled |= follow_ons(part, chunk_results)
        restarts += chunk_restarts
    note = f", mariadbd exited and was restarted {restarts} time(s)" if restarts else ""
    what = f"{label.rstrip('-')} " if label else ""
    print(f"  {mode}, {target}: {len(results)} tests {what}({time.monotonic() - started:.0f}s{note})", flush=True)
    return results, spoiled


def follow_ons(tests, results):
    """The tests of one chunk whose verdict an earlier failure may have decided: mtr restarts a server
    it runs itself after a failed test, but cannot restart an --extern one, so whatever the failed test
    left behind (its tables, a disabled event scheduler, a renamed mysql table) meets the rest of the
    chunk. These are the tests that failed after an earlier failure of the chunk (in mtr's order,
    which is the order of `results`), and the tests that have no result at all in a chunk that had a
    failure (mtr stopped before them)."""
    spoiled = set()
    failed_before = False
    for name, (status, _) in results.items():
        if status == "fail":
            if failed_before:
                spoiled.add(name)
            failed_before = True
    if failed_before:
        seen = {name.split(" ", 1)[0] for name in results}  # "main.x 'innodb'" is a combination of main.x
        spoiled |= {t for t in tests if t not in seen}
    return spoiled


# corral set up as the server is: mtr's mariadbd has local-infile, and allows 151 connections where
# corral's pools default to 4 per user; mtr's tests hold several statements blocked on locks at once
# while another session polls the processlist for them.
CORRAL_SETTINGS = """
[pool]
max_connections = 64

[mysql]
local_infile = true
"""


def start_corral_in_front_of(corral_binary, work, server):
    """corral with auth = "backend": the tests' root and the users they create log in to mariadbd
    themselves (connect, change_user); root's own URL account reads mysql.user for COM_CHANGE_USER."""
    return start_corral(corral_binary, work, "mysql", f"mysql://root@127.0.0.1:{server.port}", CORRAL_SETTINGS,
                        auth="backend")


def run_mtr_chunk(tree, target, mode, work, tests, corral_binary, timeout_min, number):
    vardir = work / f"var-{mode}-{target}"
    shutil.rmtree(vardir, ignore_errors=True)
    shutil.copytree(work / "template" / "data", vardir / "mysqld.1" / "data", symlinks=True)
    server = MariaDB(vardir / "mysqld.1" / "data", vardir).start()
    corral = None
    mtr = None
    try:
        port = server.port
        if corral_binary is not None:
            corral, port = start_corral_in_front_of(corral_binary, work, server)
        command = ["perl", "./mariadb-test-run.pl", "--extern", "host=127.0.0.1", "--extern", f"port={port}",
                   "--extern", "user=root", "--extern", "protocol=tcp",
                   "--extern", f"socket={vardir}/tmp/mysqld.1.sock", f"--vardir={vardir}",
                   f"--tmpdir={vardir}/tmp", "--parallel=1", "--force", "--max-test-fail=0", "--retry=0",
                   f"--testcase-timeout={timeout_min}", "--suite-timeout=1440", "--report-times"]
        if mode == "ps":
            command.append("--ps-protocol")
        command += tests
        (work / "logs").mkdir(exist_ok=True)
        log_path = work / "logs" / f"mtr-{mode}-{target}-{number}.log"
        with open(log_path, "w") as log:
            # mtr sets MASTER_MYPORT/MASTER_MYSOCK only for servers it starts; tests connect with them.
            env = {**os.environ, "MASTER_MYPORT": str(port), "MASTER_MYSOCK": f"{vardir}/tmp/mysqld.1.sock"}
            # Its own session: mtr forks workers, and an interrupted run must not leave them behind.
            mtr = subprocess.Popen(command, cwd=tree, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, start_new_session=True)
            mtr.wait()
        return parse_mtr(log_path.read_text(errors="replace")), server.restarts
    finally:
        if mtr is not None and mtr.poll() is None:
            os.killpg(mtr.pid, signal.SIGKILL)
            mtr.wait()
        stop(corral)
        server.stop()


def alone_report(alone):
    """The report's section on the tests run again alone (see follow_ons())."""
    lines = ["", "## Run again alone after an earlier failure in their chunk", "",
             f"{len(alone)} test(s) failed after an earlier failure of their chunk in the direct or the corral "
             "run (or got no result), and ran again alone on a fresh server, in both runs; those verdicts count.",
             ""]
    if alone:
        lines += ["| mode | test | direct: chunk → alone | corral: chunk → alone |", "|---|---|---|---|"]
        lines += [f"| {m} | {n} | {dc} → {da} | {cc} → {ca} |" for m, n, dc, cc, da, ca in alone]
    return lines


def main_tests(tree):
    return sorted(f"main.{p.stem}" for p in (tree / "main").glob("*.test"))


def client_test_names():
    listing = subprocess.run(["mariadb-client-test", "--no-defaults", "-T"], capture_output=True, text=True).stdout
    return [line.strip() for line in listing.splitlines() if re.fullmatch(r"\s*\w+\s*", line)]


def run_client_test(target, work, names, corral_binary):
    """{function: (status, why)} of mariadb-client-test, one process per test function, against a
    fresh server, through corral when corral_binary is set."""
    vardir = work / f"var-client-test-{target}"
    shutil.rmtree(vardir, ignore_errors=True)
    shutil.copytree(work / "template" / "data", vardir / "mysqld.1" / "data", symlinks=True)
    server = MariaDB(vardir / "mysqld.1" / "data", vardir).start()
    corral = None
    results = {}
    (work / "logs").mkdir(exist_ok=True)
    try:
        port = server.port
        if corral_binary is not None:
            corral, port = start_corral_in_front_of(corral_binary, work, server)
        with open(work / "logs" / f"client-test-{target}.log", "w") as log:
            for name in names:
                command = ["mariadb-client-test", "--no-defaults", "--testcase", "--user=root", "--host=127.0.0.1",
                           f"--port={port}", f"--vardir={vardir}", "--getopt-ll-test=25600M", name]
                try:
                    done = subprocess.run(command, capture_output=True, text=True, errors="replace",
                                          timeout=CLIENT_TEST_TIMEOUT_S, stdin=subprocess.DEVNULL)
                    output, code = done.stdout + done.stderr, done.returncode
                except subprocess.TimeoutExpired as expired:
                    output = (expired.stdout or b"").decode(errors="replace") if isinstance(expired.stdout, bytes) \
                        else (expired.stdout or "")
                    output += f"\ntimed out after {CLIENT_TEST_TIMEOUT_S}s"
                    code = -1
                log.write(f"===== {name}: exit status {code}\n{output}\n")
                if code == 0:
                    results[name] = ("pass", "")
                else:
                    results[name] = ("fail", client_test_reason(output, code))
        if server.restarts:
            print(f"  (client-test, {target}: mariadbd exited and was restarted {server.restarts} time(s))", flush=True)
        return results
    finally:
        stop(corral)
        server.stop()


def client_test_reason(output, code):
    """Why a client-test function failed: the error it printed ('[MySQL-version][code] message',
    'Query failed ...') and where its check failed ('mysql_client_test.c:LINE')."""
    body = output.split("1 of (1/1)", 1)[-1]
    lines = [l.strip() for l in body.splitlines() if l.strip() and not l.startswith("#")]
    checks = [re.search(r"(mysql_client_test\.c:\d+): (.*)", l) for l in lines]
    check = next((m for m in checks if m), None)
    errors = [l for l in lines if re.search(r"^\[MySQL-[^\]]*\]|failed|error|Error", l)
              and "check failed" not in l and not re.fullmatch(r"MySQL error 0:", l)]
    reason = errors[0] if errors else (lines[-1] if lines else f"exit status {code}")
    if check and check.group(0) not in reason:
        reason += f" ({check.group(1)}: {check.group(2)})"
    return shorten(reason)


def read_list(path):
    return [w for line in path.read_text().splitlines() if not line.startswith("#") for w in line.split()]


def write_tsv(path, header, rows, keep):
    """Rewrites a (mode, test, value, why) list: rows of this run, plus the old rows `keep` accepts."""
    old = []
    if path.exists():
        for line in path.read_text().splitlines():
            fields = line.split("\t")
            if line and not line.startswith("#") and keep((fields[0], fields[1])):
                old.append(fields)
    merged = {(f[0], f[1]): f for f in old}
    merged.update({(r[0], r[1]): list(r) for r in rows})
    order = {m: i for i, m in enumerate(MODES)}
    body = sorted(merged.values(), key=lambda f: (order.get(f[0], 9), f[1]))
    path.write_text(header + "".join("\t".join(f) + "\n" for f in body))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corral", default=str(ROOT / "build/release/proxy/corral"))
    parser.add_argument("--work", default=str(ROOT / "build/compat/mysql"))
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    tests = parser.add_mutually_exclusive_group()
    tests.add_argument("--tests", nargs="+", help="mtr tests (main.select ...) and client-test functions (test_prepare ...)")
    tests.add_argument("--subset", action="store_true", help="the tests of mysql/subset.txt")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (default 2: direct and corral together)")
    parser.add_argument("--every", type=int, default=1, metavar="N",
                        help="without --tests/--subset: every Nth test of main (a sample)")
    parser.add_argument("--start", type=int, default=0, metavar="K",
                        help="with --every: start at the Kth test (0-based), so runs with K = 0..N-1 cover main")
    parser.add_argument("--chunk", type=int, default=50, help="mtr tests per fresh server (default 50)")
    parser.add_argument("--testcase-timeout", type=int, default=3, help="minutes per mtr test (default 3)")
    parser.add_argument("--write-baseline", action="store_true", help="refresh mysql/baseline-direct.tsv")
    parser.add_argument("--write-expected-failures", action="store_true",
                        help="rewrite mysql/expected-failures.tsv from this run (the tests it ran)")
    parser.add_argument("--mysql-setting", action="append", default=[], metavar="KEY=VALUE",
                        help="a line for corral's [mysql] table (e.g. share_prepared_statements=false); "
                             "the verdicts then compare that configuration, not the default")
    args = parser.parse_args()
    global CORRAL_SETTINGS
    # [mysql] is the settings' last table: its extra lines go at the end.
    CORRAL_SETTINGS += "".join(f"{setting}\n" for setting in args.mysql_setting)

    binary = Path(args.corral).resolve()
    if not os.access(binary, os.X_OK):
        print(f"corral binary {binary} is missing: build it first (scripts/build.sh release)", file=sys.stderr)
        return 2
    if not (MTR_DIR / "mariadb-test-run.pl").exists():
        print(f"{MTR_DIR} is missing: run scripts/install-deps.sh (package mariadb-test)", file=sys.stderr)
        return 2
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(work / "logs", ignore_errors=True)
    tree = prepare_tree(work)
    bootstrap(work / "template")

    chosen = read_list(HERE / "mysql" / "subset.txt") if args.subset else args.tests
    # mtr names its tests suite.name; client-test functions have no dot.
    mtr_tests = [t for t in chosen if "." in t] if chosen else main_tests(tree)[args.start::args.every]
    client_tests = [t for t in chosen if "." not in t] if chosen else client_test_names()

    modes = [m for m in args.modes if m != "client-test" or client_tests]
    modes = [m for m in modes if m == "client-test" or mtr_tests]

    def run(mode, target):
        """(results, follow-ons) of one run; the client test's functions are separate processes and
        have no follow-ons."""
        binary_or_none = binary if target == "corral" else None
        if mode == "client-test":
            return run_client_test(target, work, client_tests, binary_or_none), set()
        return run_mtr(tree, target, mode, work, mtr_tests, binary_or_none, args.testcase_timeout, args.chunk)

    def run_alone(mode, target, tests):
        binary_or_none = binary if target == "corral" else None
        return run_mtr(tree, target, mode, work, tests, binary_or_none, args.testcase_timeout, 1, "alone-")[0]

    # Runs are independent (own servers, own corral, own mtr vardir): --jobs of them at a time. The
    # direct and corral runs of a mode start together, so both see the same load.
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {(m, t): pool.submit(run, m, t) for m in modes for t in ("direct", "corral")}
        outcome = {key: future.result()[0] for key, future in futures.items()}
        spoiled = {key: future.result()[1] for key, future in futures.items()}
        # What mtr would do had it started the server: a test that failed after an earlier failure of its
        # chunk, in either run, runs again alone on a fresh server (and corral), in both runs alike, and
        # that verdict counts.
        again = {m: sorted({n.split(" ", 1)[0] for t in ("direct", "corral") for n in spoiled[(m, t)]})
                 for m in modes if m != "client-test"}
        futures = {(m, t): pool.submit(run_alone, m, t, again[m]) for m in again if again[m]
                   for t in ("direct", "corral")}
        chunked = {key: dict(outcome[key]) for key in futures}
        for (mode, target), future in futures.items():
            # The chunk's verdicts go, so that a test the alone run did not report is missing, not spoiled.
            results = outcome[(mode, target)]
            for name in [n for n in results if n.split(" ", 1)[0] in again[mode]]:
                del results[name]
            results.update(future.result())
    alone = []  # (mode, test, direct in the chunk, corral in the chunk, direct alone, corral alone)
    for mode in again:
        for base in again[mode]:
            for name in [n for n in outcome[(mode, "direct")] if n.split(" ", 1)[0] == base] or [base]:
                before = [chunked.get((mode, t), {}).get(name, ("missing", ""))[0] for t in ("direct", "corral")]
                after = [outcome[(mode, t)].get(name, ("missing", ""))[0] for t in ("direct", "corral")]
                alone.append((mode, name, *before, *after))
    direct, corral, why = {}, {}, {}
    for mode in modes:
        d, c = outcome[(mode, "direct")], outcome[(mode, "corral")]
        direct[mode] = {n: s for n, (s, _) in d.items()}
        corral[mode] = {n: s for n, (s, _) in c.items()}
        for n in set(d) | set(c):
            why[(mode, n)] = (d.get(n, ("missing", ""))[1], c.get(n, ("missing", ""))[1])
        ok_direct = sum(s == "pass" for s in direct[mode].values())
        ok_both = sum(s == "pass" and corral[mode].get(n) == "pass" for n, s in direct[mode].items())
        print(f"{mode}: {len(direct[mode])} tests, {ok_direct} pass direct, {ok_both} of them through corral",
              flush=True)
    print(f"({time.monotonic() - started:.0f}s, {args.jobs} run(s) at a time; {len(alone)} test(s) run again alone "
          "after an earlier failure in their chunk)", flush=True)

    expected = read_tsv(HERE / "mysql" / "expected-failures.tsv", 3)
    baseline_path = HERE / "mysql" / "baseline-direct.tsv"
    baseline = read_tsv(baseline_path, 3)
    report, rows, regressions = compare("MariaDB test suites through corral", "mysql", modes, direct, corral,
                                        expected, baseline, ok="pass")
    (work / "results.tsv").write_text("mode\ttest\tdirect\tcorral\twhy not\n" + "".join(
        f"{m}\t{n}\t{d}\t{c}\t{why[(m, n)][1] if d == 'pass' else why[(m, n)][0]}\n" for m, n, d, c, _ in rows))
    report += alone_report(alone)
    (work / "report.md").write_text("\n".join(report) + "\n")
    print("\n".join(report))
    ran = {(m, n) for m, n, _, _, _ in rows}
    if args.write_baseline:
        write_tsv(baseline_path,
                  "# mode\ttest\tresult against a bare mariadbd\twhy not (mysql_compat.py --write-baseline)\n",
                  [(m, n, d, why[(m, n)][0]) for m, n, d, _, _ in rows], lambda key: key not in ran)
    if args.write_expected_failures:
        write_tsv(HERE / "mysql" / "expected-failures.tsv",
                  "# mode\ttest\tfirst error through corral (passes direct; mysql_compat.py --write-expected-failures)\n",
                  [(m, n, why[(m, n)][1] or c) for m, n, d, c, _ in rows if d == "pass" and c != "pass"],
                  lambda key: key not in ran)
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())

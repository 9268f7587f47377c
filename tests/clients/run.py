#!/usr/bin/env python3
"""Runs real Redis client libraries against corral: ioredis and node-redis (tests/clients/node, with
Node's own test runner) and redis-py (tests/clients/python, Debian's python3-redis).

    tests/clients/run.py --corral build/release/proxy/corral

Starts a redis-server (with the ACL user alice/pw) and a corral (two workers, auth "none") in front of
it on free loopback ports, plus a second listener with TLS (certificates made here with the openssl
CLI), runs both suites against corral, stops both. The Node packages come from
tests/clients/node/package-lock.json: `npm ci` runs here when node_modules is missing or older than
the lock file. Exit status: 0 when every suite passed, 1 otherwise, 2 for a set-up error.
Standard library only (redis-py is only imported by its suite, run with /usr/bin/python3, where
Debian installs it).
"""

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "compat"))
from compat_common import free_port, start_corral, stop, wait_for_port  # noqa: E402

NODE = HERE / "node"


def ensure_node_modules():
    installed = NODE / "node_modules" / ".package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= (NODE / "package-lock.json").stat().st_mtime:
        return
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE, check=True)


def start_redis(work):
    port = free_port()
    log = open(work / "redis.log", "w")
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(work),
                                "--save", "", "--appendonly", "no"], stdout=log, stderr=subprocess.STDOUT)
    wait_for_port(port, process, "redis-server")
    subprocess.run(["redis-cli", "-p", str(port), "ACL", "SETUSER", "alice", "on", ">pw", "~*", "&*", "+@all"],
                   check=True, stdout=subprocess.DEVNULL)
    return process, port


def make_certificates(work):
    """A test CA and a server certificate for 127.0.0.1 signed by it; returns (ca, cert, key) paths."""
    ca_key, ca, key, csr, cert = (work / name for name in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt"))
    quiet = {"check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=corral test CA",
                    "-keyout", str(ca_key), "-out", str(ca)], **quiet)
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(key), "-out", str(csr)], **quiet)
    extensions = work / "san.ext"
    extensions.write_text("subjectAltName = IP:127.0.0.1, DNS:localhost\n")
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
                    "-CAcreateserial", "-days", "2", "-extfile", str(extensions), "-out", str(cert)], **quiet)
    return ca, cert, key


def tls_listener(port, backend, cert, key):
    """A second [[listeners]] table: the same backend behind TLS."""
    return f"""
[[listeners]]
name = "redis-tls"
protocol = "redis"
address = "127.0.0.1:{port}"
backend = "{backend}"
auth = "none"
tls_cert = "{cert}"
tls_key = "{key}"
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corral", required=True, type=pathlib.Path)
    args = parser.parse_args()
    try:
        ensure_node_modules()
    except (OSError, subprocess.CalledProcessError) as error:
        print(f"clients: npm ci failed: {error}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="corral-clients-") as directory:
        work = pathlib.Path(directory)
        redis_process = corral_process = None
        failed = []
        try:
            redis_process, redis_port = start_redis(work)
            backend = f"redis://127.0.0.1:{redis_port}"
            ca, cert, key = make_certificates(work)
            tls_port = free_port()
            corral_process, corral_port = start_corral(args.corral.resolve(), work, "redis", backend,
                                                       extra=tls_listener(tls_port, backend, cert, key))
            wait_for_port(tls_port, corral_process, "corral's TLS listener")
            env = dict(os.environ, CORRAL_PORT=str(corral_port), CORRAL_TLS_PORT=str(tls_port), CORRAL_TLS_CA=str(ca))
            suites = [
                ("node (ioredis, node-redis)", ["node", "--test", "--test-reporter=spec", "clients.test.mjs"], NODE),
                ("redis-py", ["/usr/bin/python3", "-m", "unittest", "-v", "test_redis_py"], HERE / "python"),
            ]
            for name, command, cwd in suites:
                print(f"clients: {name}", flush=True)
                if subprocess.run(command, cwd=cwd, env=env, timeout=120).returncode != 0:
                    failed.append(name)
        except (OSError, RuntimeError, subprocess.SubprocessError) as error:
            print(f"clients: {error}", file=sys.stderr)
            return 2
        finally:
            stop(corral_process)
            stop(redis_process)
            if corral_process is not None and corral_process.returncode not in (0, None):
                print(f"clients: corral exited with status {corral_process.returncode}", file=sys.stderr)
                failed.append("corral exit status")
        if failed:
            print("clients: FAILED: " + ", ".join(failed), file=sys.stderr)
            return 1
        print("clients: all passed")
        return 0


if __name__ == "__main__":
    sys.exit(main())

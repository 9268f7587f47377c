#!/usr/bin/env python3
"""Unit tests of bench/results.py: parsing real tool output (bench/testdata/, captured from bench runs)
and the report's arithmetic and verdicts. ctest bench_results (label unit)."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import results  # noqa: E402  (needs the path above)


def testdata(name):
    with open(os.path.join(HERE, "testdata", name), encoding="utf-8") as f:
        return f.read()


class RedisBenchmarkParsing(unittest.TestCase):
    def test_csv_row_gives_throughput_and_percentiles(self):
        parsed, reason = results.parse_redis_benchmark(testdata("redis_benchmark_twemproxy.txt"), 0)
        self.assertIsNone(reason)  # twemproxy's "Could not fetch server CONFIG" warning is harmless
        self.assertEqual(parsed, {"throughput": 81967.21, "p50_ms": 0.391, "p99_ms": 1.359})

    def test_cluster_mode_output_lists_the_masters_before_the_csv(self):
        parsed, reason = results.parse_redis_benchmark(testdata("redis_benchmark_cluster.txt"), 0)
        self.assertIsNone(reason)
        self.assertEqual(parsed, {"throughput": 7462.69, "p50_ms": 0.159, "p99_ms": 16.463})

    def test_connection_error_is_a_failure_with_its_text(self):
        parsed, reason = results.parse_redis_benchmark("Error: Connection reset by peer\n", 1)
        self.assertIsNone(parsed)
        self.assertEqual(reason, "exit status 1: Error: Connection reset by peer")

    def test_error_replies_fail_the_run_even_with_a_csv_row(self):
        text = ('Error from server: ERR corral: backend 127.0.0.1:1 unavailable\n'
                '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",'
                '"p99_latency_ms","max_latency_ms"\n"GET","1.00","1","1","1","1","1","1"\n')
        parsed, reason = results.parse_redis_benchmark(text, 0)
        self.assertIsNone(parsed)
        self.assertIn("backend 127.0.0.1:1 unavailable", reason)

    def test_timeout_without_output(self):
        self.assertEqual(results.parse_redis_benchmark("", 124), (None, "exit status 124: no output"))


class SysbenchParsing(unittest.TestCase):
    def test_report_gives_queries_per_second_errors_and_histogram_percentiles(self):
        parsed, reason = results.parse_sysbench(testdata("sysbench_ok.txt"), 0)
        self.assertIsNone(reason)
        self.assertEqual(parsed, {"throughput": 15460.93, "requests": 62178, "errors": 0,
                                  "p50_ms": 0.797, "p99_ms": 5.09})

    def test_pool_timeout_names_the_server_error(self):
        parsed, reason = results.parse_sysbench(testdata("sysbench_pool_timeout.txt"), 1)
        self.assertIsNone(parsed)
        self.assertIn("error 1040 (corral: no connection to backend", reason)

    def test_refused_login_names_the_server_error_not_the_generic_line(self):
        parsed, reason = results.parse_sysbench(testdata("sysbench_refused.txt"), 1)
        self.assertIsNone(parsed)
        self.assertEqual(reason, "exit status 1: FATAL: error 1105: corral: the MySQL path is not available "
                                 "in this build yet")

    def test_histogram_percentile_is_the_first_bucket_reaching_the_rank(self):
        buckets = [(1.0, 50), (2.0, 49), (9.0, 1)]
        self.assertEqual(results.histogram_percentile(buckets, 0.50), 1.0)
        self.assertEqual(results.histogram_percentile(buckets, 0.99), 2.0)
        self.assertEqual(results.histogram_percentile(buckets, 1.0), 9.0)
        self.assertIsNone(results.histogram_percentile([], 0.5))


def redis_record(case, target, rnd, throughput, p50=0.3, proxy_cpu=None, kernel_share=None):
    return {"suite": "redis", "case": case, "target": target, "round": rnd, "ok": True,
            "throughput": throughput, "p50_ms": p50, "p99_ms": 1.0,
            "proxy_cpu_us": proxy_cpu, "proxy_kernel_share": kernel_share, "backend_cpu_us": 2.0,
            "machine_busy_share": 0.5}


class Records(unittest.TestCase):
    def run_args(self, target, proxy_ticks, proxy_sys_ticks):
        return argparse.Namespace(case="GET -c 50 -P 1", target=target, round=1, clk_tck=100,
                                  proxy_ticks=proxy_ticks, proxy_sys_ticks=proxy_sys_ticks, backend_ticks=50,
                                  busy_ticks=150, total_ticks=200)

    def test_cpu_per_request_and_kernel_share_of_the_proxy(self):
        parsed = {"throughput": 1000.0}
        record = results.record_run(self.run_args("corral", 40, 30), "redis", parsed, None, 100000)
        self.assertAlmostEqual(record["proxy_cpu_us"], 4.0)
        self.assertAlmostEqual(record["proxy_kernel_share"], 0.75)
        self.assertAlmostEqual(record["backend_cpu_us"], 5.0)
        self.assertAlmostEqual(record["machine_busy_share"], 0.75)
        idle = results.record_run(self.run_args("corral", 0, 0), "redis", parsed, None, 100000)
        self.assertIsNone(idle["proxy_kernel_share"])
        direct = results.record_run(self.run_args("direct", 0, 0), "redis", parsed, None, 100000)
        self.assertIsNone(direct["proxy_cpu_us"])
        self.assertIsNone(direct["proxy_kernel_share"])


class Report(unittest.TestCase):
    def report(self, records, workers=1):
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            for record in records:
                f.write(json.dumps(record) + "\n")
        try:
            return subprocess.run([sys.executable, os.path.join(HERE, "results.py"), "report", f.name,
                                   "--workers", str(workers)], check=True, capture_output=True,
                                  text=True).stdout
        finally:
            os.unlink(f.name)

    def test_ratios_pair_rounds_and_take_the_median(self):
        case = "GET -c 50 -P 1"
        records = []
        # Round 2 is slow for everyone: per-round ratios stay 1.2, a ratio of medians would not.
        for rnd, direct in ((1, 100.0), (2, 10.0), (3, 100.0)):
            records.append(redis_record(case, "direct", rnd, direct))
            records.append(redis_record(case, "twemproxy", rnd, direct, proxy_cpu=10.0))
            records.append(redis_record(case, "corral", rnd, direct * 1.2, proxy_cpu=4.0, kernel_share=0.75))
        out = self.report(records)
        self.assertIn("| GET -c 50 -P 1 | corral | 120 | 90% | 0.300 | 1.000 | 4.0 | 75 | 2.0 | 50 | 1.20x | 1.20x "
                      "| 0 |", out)
        self.assertIn("| Redis -P 1, GET and SET: corral ≥ 1.15x twemproxy | met | GET -c 50 -P 1 1.20 (≥ 1.15) |", out)
        self.assertIn("| corral CPU per unpipelined request ≤ 0.5x twemproxy's | met | GET -c 50 -P 1 0.40 (≤ 0.5) |", out)
        self.assertIn("| corral p50 at -c 50 -P 1 within 0.1 ms of direct (ms added) | met | GET -c 50 -P 1 0.00 (≤ 0.1) |", out)

    def test_a_failed_target_shows_its_reason_and_its_targets_have_no_result(self):
        case = "GET -c 50 -P 16"
        records = [redis_record(case, "direct", 1, 100.0), redis_record(case, "twemproxy", 1, 50.0),
                   {"suite": "redis", "case": case, "target": "corral", "round": 1, "ok": False,
                    "reason": "corral did not start: bad config"}]
        out = self.report(records)
        self.assertIn("| GET -c 50 -P 16 | corral | corral: failed (corral did not start: bad config) |", out)
        self.assertIn("| Redis -P 16: corral ≥ 0.85x direct | **no result** | ✗ GET -c 50 -P 16: no result |", out)

    def test_not_met_wins_over_no_result(self):
        check = results.Check("t")
        check.at_least("a", 0.5, 1.0)
        check.missing.append("b")
        self.assertIn("**NOT met**", check.line())

    def test_a_failed_256_thread_round_breaks_the_zero_errors_target(self):
        ok = {"suite": "mysql", "target": "corral", "ok": True, "throughput": 100.0, "p50_ms": 1.0,
              "p99_ms": 2.0, "errors": 0, "proxy_cpu_us": 1.0, "backend_cpu_us": 1.0}
        records = [dict(ok, case="read_only ps=disable t16", round=1),
                   dict(ok, case="read_only ps=disable t256", round=1),
                   {"suite": "mysql", "case": "read_only ps=disable t256", "target": "corral", "round": 2,
                    "ok": False, "reason": "error 1040"}]
        out = self.report(records)
        self.assertIn("**NOT met** | ✗ read_only ps=disable t256 errors + failed rounds 1 (≤ 0); "
                      "read_only ps=disable t256 1.00 (≥ 0.9) |", out)

    def test_256_threads_are_also_measured_against_directs_own_loss(self):
        def run(case, target, round_, throughput):
            return {"suite": "mysql", "case": case, "target": target, "round": round_, "ok": True,
                    "throughput": throughput, "p50_ms": 1.0, "p99_ms": 2.0, "errors": 0,
                    "proxy_cpu_us": 1.0, "backend_cpu_us": 1.0}
        records = []
        # Round 1: direct keeps 60 % at 256 threads, corral 54 %: 0.9 of direct's. Round 2: 0.8 and 0.8.
        for round_, (direct_256, corral_256) in enumerate([(60.0, 54.0), (80.0, 80.0)], start=1):
            records += [run("point_select ps=disable t16", "direct", round_, 100.0),
                        run("point_select ps=disable t16", "corral", round_, 100.0),
                        run("point_select ps=disable t256", "direct", round_, direct_256),
                        run("point_select ps=disable t256", "corral", round_, corral_256)]
        out = self.report(records)
        self.assertIn("| MySQL 256 threads: corral's 256/16-thread ratio ≥ 0.9x direct's (sysbench's own cost out) "
                      "| met | point_select ps=disable t256 0.95 (≥ 0.9) |", out)

    def test_idle_rss_per_client_and_backend_connections_per_worker(self):
        records = [{"suite": "idle", "case": "redis 1000 idle clients", "target": "corral", "protocol": "redis",
                    "clients": 1000, "workers": 2, "round": 1, "ok": True, "rss_before_kib": 1000,
                    "rss_after_kib": 4000, "backend_connections": 5}]
        out = self.report(records, workers=2)
        self.assertIn("| redis 1000 idle clients | corral | 1,000 | 1.0 | 3.9 | 3.00 | 5 |", out)
        self.assertIn("| Idle clients: ≤ 4 KiB of corral RSS per client (KiB) | met |", out)
        self.assertIn("| Idle Redis clients on ≤ 2 backend connections per worker (2 worker(s)) | **NOT met** "
                      "| ✗ redis 1,000 clients 5 (≤ 4) |", out)

    def test_tls_rows_pair_each_tls_target_with_its_plain_twin(self):
        case = "redis GET -c 50 -P 1"
        records = []
        for rnd, base in ((1, 100.0), (2, 50.0), (3, 100.0)):
            for target, factor, cpu in (("direct", 1.0, None), ("direct+tls", 0.8, None),
                                        ("corral", 1.0, 4.0), ("corral+tls", 0.5, 6.0)):
                record = redis_record(case, target, rnd, base * factor, proxy_cpu=cpu)
                record["suite"] = "tls"
                records.append(record)
        records.append({"suite": "tls", "case": "mysql point_select ps=disable t16", "target": "corral+tls",
                        "round": 1, "ok": False, "reason": "FATAL: error 2026"})
        out = self.report(records)
        self.assertIn("### TLS against plain", out)
        self.assertIn("| redis GET -c 50 -P 1 | direct+tls | 80 | 50% | 0.300 | 1.000 | – | 2.0 | 0.80x | 0 |", out)
        self.assertIn("| redis GET -c 50 -P 1 | corral+tls | 50 | 50% | 0.300 | 1.000 | 6.0 | 2.0 | 0.50x | 0 |", out)
        self.assertIn("| redis GET -c 50 -P 1 | corral | 100 | 50% | 0.300 | 1.000 | 4.0 | 2.0 | – | 0 |", out)
        self.assertIn("| mysql point_select ps=disable t16 | corral+tls | corral+tls: failed (FATAL: error 2026) |", out)

    def test_cluster_rows_pair_corral_with_the_cluster_aware_client_by_round(self):
        case = "GET -c 50 -P 16"
        records = []
        # Round 2 is slow for both: per-round ratios stay 0.6, a ratio of medians would be 0.75.
        for rnd, direct in ((1, 100.0), (2, 40.0), (3, 80.0)):
            for target, factor, cpu in (("direct", 1.0, None), ("corral", 0.6, 3.0)):
                record = redis_record(case, target, rnd, direct * factor, proxy_cpu=cpu)
                record["suite"] = "cluster"
                records.append(record)
        records.append({"suite": "cluster", "case": "SET -c 50 -P 1", "target": "corral", "round": 1,
                        "ok": False, "reason": "corral did not start: bad backend"})
        out = self.report(records)
        self.assertIn("### Redis Cluster, 3 masters: corral against redis-benchmark --cluster (direct)", out)
        self.assertIn("| GET -c 50 -P 16 | direct | 80 | 75% | 0.300 | 1.000 | – | 2.0 | 50 | – | 0 |", out)
        self.assertIn("| GET -c 50 -P 16 | corral | 48 | 75% | 0.300 | 1.000 | 3.0 | 2.0 | 50 | 0.60x | 0 |", out)
        self.assertIn("| SET -c 50 -P 1 | corral | corral: failed (corral did not start: bad backend) |", out)
        # Cluster rows are not standalone Redis rows: issue 5's Redis targets do not count them.
        self.assertNotIn("Redis -P 16: corral ≥ 0.85x direct", out)

    def test_direct_tls_target_has_no_proxy_cpu(self):
        args = argparse.Namespace(case="c", target="direct+tls", round=1, clk_tck=100, proxy_ticks=0,
                                  proxy_sys_ticks=0, backend_ticks=50, busy_ticks=150, total_ticks=200)
        record = results.record_run(args, "tls", {"throughput": 1.0}, None, 100)
        self.assertIsNone(record["proxy_cpu_us"])
        self.assertEqual(record["suite"], "tls")


if __name__ == "__main__":
    unittest.main()

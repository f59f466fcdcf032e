#!/usr/bin/env python3
"""Tests of ci/compare_judge.py (ctest: compare_parsers). Parsers on captured real outputs in
data/, the judge on hand-made figures, and the `judge` command end to end."""
import io
import json
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stdout

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "ci"))
import compare_judge as cj  # noqa: E402


def data(name):
    with open(os.path.join(HERE, "data", name), errors="replace") as f:
        return f.read()


class Iperf3(unittest.TestCase):
    def test_receiver_gbps_of_a_real_run(self):
        self.assertAlmostEqual(cj.iperf3_gbps(data("iperf3-stream.json")), 19.570769938654892, places=9)

    def test_error_and_not_json(self):
        with self.assertRaisesRegex(cj.ParseError, "unable to connect"):
            cj.iperf3_gbps('{"start": {}, "error": "unable to connect to server"}')
        with self.assertRaises(cj.ParseError):
            cj.iperf3_gbps("iperf3: error - unable to connect\n")
        with self.assertRaises(cj.ParseError):
            cj.iperf3_gbps('{"end": {}}')


class Sockperf(unittest.TestCase):
    def test_ping_pong_half_round_trip(self):
        s = cj.sockperf_summary(data("sockperf-pp-nonblocked.txt"))  # colour escapes included
        self.assertEqual(s["kind"], "latency")
        self.assertEqual(s["avg"], 32.926)
        self.assertEqual(s["observations"], 8316)
        self.assertEqual(s["percentiles"][50.0], 6.84)
        self.assertEqual(s["percentiles"][99.0], 35.577)
        self.assertEqual(s["percentiles"][99.999], 6042.664)
        self.assertEqual(s["max"], 6042.664)

    def test_full_rtt(self):
        self.assertEqual(cj.sockperf_percentile(data("sockperf-pp-fullrtt.txt"), 50, "rtt"), 16.764)
        ul = data("sockperf-ul-fullrtt.txt")
        self.assertEqual(cj.sockperf_percentile(ul, 50, "rtt"), 15.172)
        self.assertEqual(cj.sockperf_percentile(ul, 99.0, "rtt"), 4098.079)
        self.assertEqual(cj.sockperf_summary(ul)["min"], 14.01)

    def test_kind_is_checked(self):
        with self.assertRaisesRegex(cj.ParseError, "full-rtt"):
            cj.sockperf_percentile(data("sockperf-pp-nonblocked.txt"), 50, "rtt")
        with self.assertRaisesRegex(cj.ParseError, "not latency"):
            cj.sockperf_percentile(data("sockperf-ul-fullrtt.txt"), 50, "latency")

    def test_incomplete_output(self):
        text = data("sockperf-ul-fullrtt.txt")
        with self.assertRaises(cj.ParseError):
            cj.sockperf_summary(text[: text.index("Summary")])
        with self.assertRaisesRegex(cj.ParseError, "no percentile 99.5"):
            cj.sockperf_percentile(text, 99.5)
        with self.assertRaises(cj.ParseError):
            cj.sockperf_summary("sockperf: ERROR: can't connect\n")


class Perftest(unittest.TestCase):
    def test_bandwidth_tables(self):
        for tool, avg in (("write", 0.070374), ("read", 0.11), ("send", 0.051898)):
            self.assertEqual(cj.perftest_value(data(f"perftest-ib_{tool}_bw.txt"), 65536, "BW average", "Gb/sec"), avg)
        rows = cj.perftest_rows(data("perftest-ib_write_bw.txt"))
        self.assertEqual(list(rows[0]), ["#bytes", "#iterations", "BW peak[Gb/sec]", "BW average[Gb/sec]",
                                         "MsgRate[Mpps]"])
        # The server side of ib_send_bw prints the same table (peak 0 there).
        self.assertEqual(cj.perftest_value(data("perftest-ib_send_bw.server.txt"), 65536, "BW peak"), 0.0)

    def test_latency_tables(self):
        self.assertEqual(cj.perftest_value(data("perftest-ib_write_lat.txt"), 8, "t_typical", "usec"), 27654.65)
        text = data("perftest-ib_read_lat.txt")
        self.assertEqual(cj.perftest_value(text, 8, "t_typical", "usec"), 368.8)
        row = cj.perftest_rows(text)[0]
        self.assertEqual(row["t_min[usec]"], 337.16)
        self.assertEqual(row["t_avg[usec]"], 538.12)
        self.assertEqual(row["99.9% percentile[usec]"], 4042.99)
        self.assertEqual(len(row), 9)

    def test_wrong_size_column_or_unit(self):
        text = data("perftest-ib_write_bw.txt")
        with self.assertRaisesRegex(cj.ParseError, "no result row for 8 bytes"):
            cj.perftest_value(text, 8, "BW average")
        with self.assertRaisesRegex(cj.ParseError, "no column 't_typical'"):
            cj.perftest_value(text, 65536, "t_typical")
        with self.assertRaisesRegex(cj.ParseError, "report_gbits"):
            cj.perftest_value(text.replace("Gb/sec", "MB/sec"), 65536, "BW average", "Gb/sec")
        with self.assertRaises(cj.ParseError):  # a client that never connected prints no table
            cj.perftest_value(text[: text.index(" #bytes")], 65536, "BW average")


class Imb(unittest.TestCase):
    def test_tables_of_a_real_run(self):
        t = cj.imb_tables(data("imb-mpi1-np2.txt"), 2)
        self.assertEqual(sorted(t), ["Allreduce", "Bcast"])
        self.assertEqual(sorted(t["Allreduce"]), [8, 16, 32])
        self.assertEqual(t["Allreduce"][8], {"reps": 100, "t_min": 0.75, "t_max": 1.67, "t_avg": 1.21})
        self.assertEqual(t["Bcast"][32]["t_avg"], 0.46)
        self.assertEqual(cj.imb_tables(data("imb-mpi1-np2.txt"), 4), {})


class FabricbenchRun(unittest.TestCase):
    DOC = {"cases": [
        {"id": "a", "status": "ok", "repetitions": [{"bw_gbps": 12.5, "latency": {"lat_p50_ns": 7050}}]},
        {"id": "b", "status": "failed", "errors": ["x"], "repetitions": []}]}

    def test_fields(self):
        self.assertEqual(cj.fabricbench_field(self.DOC, "a", "bw_gbps"), 12.5)
        self.assertEqual(cj.fabricbench_field(self.DOC, "a", "latency.lat_p50_ns"), 7050.0)
        with self.assertRaisesRegex(cj.ParseError, "failed"):
            cj.fabricbench_field(self.DOC, "b", "bw_gbps")
        with self.assertRaisesRegex(cj.ParseError, "2 cases"):
            cj.fabricbench_field(self.DOC, None, "bw_gbps")
        with self.assertRaisesRegex(cj.ParseError, "no latency.lat_p99_ns"):
            cj.fabricbench_field(self.DOC, "a", "latency.lat_p99_ns")


class Judge(unittest.TestCase):
    def test_pass_higher_is_better(self):
        r = cj.judge([10, 11, 12, 10.5, 11], [10, 10, 10, 10, 10], "higher", 1.0)
        self.assertEqual(r["ratios"], [1.0, 1.1, 1.2, 1.05, 1.1])
        self.assertAlmostEqual(r["median_ratio"], 1.1)
        self.assertEqual((r["min_ratio"], r["max_ratio"]), (1.0, 1.2))
        self.assertAlmostEqual(r["spread"], 0.2 / 1.1)
        self.assertEqual(r["verdict"], "PASS")

    def test_pass_on_the_target_itself(self):
        self.assertEqual(cj.judge([5, 5, 5], [5, 5, 5], "lower", 1.0)["verdict"], "PASS")
        self.assertEqual(cj.judge([5, 5, 5], [5, 5, 5], "higher", 1.0)["verdict"], "PASS")

    def test_miss_lower_is_better(self):
        # latency 1.20x the peer's in every round, tight: a clear miss
        r = cj.judge([12, 12.1, 11.9, 12, 12], [10] * 5, "lower", 1.0)
        self.assertEqual(r["verdict"], "MISS")
        self.assertAlmostEqual(r["miss"], 0.2 / 1.2)

    def test_within_noise(self):
        # median 1.04 misses <= 1.00 by 0.04; the ratios span 0.90..1.20 (0.30 > 0.04)
        r = cj.judge([9.0, 10.2, 10.4, 11.0, 12.0], [10] * 5, "lower", 1.0)
        self.assertAlmostEqual(r["median_ratio"], 1.04)
        self.assertEqual(r["verdict"], "WITHIN-NOISE")
        # bandwidth: median 0.97 misses >= 1.00 by 0.03; ratios span 0.90..1.05
        r = cj.judge([9.0, 9.6, 9.7, 10.1, 10.5], [10] * 5, "higher", 1.0)
        self.assertEqual(r["verdict"], "WITHIN-NOISE")

    def test_miss_larger_than_the_spread(self):
        # median 1.30 misses by 0.30; the ratios span only 1.20..1.45 (0.25 < 0.30)
        r = cj.judge([12.0, 12.5, 13.0, 14.0, 14.5], [10] * 5, "lower", 1.0)
        self.assertEqual(r["verdict"], "MISS")

    def test_one_round_has_no_noise_to_hide_in(self):
        self.assertEqual(cj.judge([10.1], [10], "lower", 1.0)["verdict"], "MISS")

    def test_no_target_is_info(self):
        r = cj.judge([2, 4], [1, 1], "lower", None)
        self.assertEqual(r["verdict"], "INFO")
        self.assertEqual(r["median_ratio"], 3.0)

    def test_bad_input(self):
        with self.assertRaises(ValueError):
            cj.judge([1, 2], [1], "lower", 1.0)
        with self.assertRaises(ValueError):
            cj.judge([1], [0], "lower", 1.0)
        with self.assertRaises(ValueError):
            cj.judge([1], [1], "sideways", 1.0)

    def test_not_bimodal(self):
        ok = cj.not_bimodal([97.5, 94.0, 99.6, 96.0, 97.5])
        self.assertEqual(ok["verdict"], "PASS")
        # two modes: three rounds near 50 us, two near 95 us
        bad = cj.not_bimodal([50.0, 52.0, 95.0, 51.0, 96.0])
        self.assertEqual(bad["verdict"], "MISS")
        self.assertEqual(bad["worst_round"], 5)
        self.assertAlmostEqual(bad["worst_deviation"], 96.0 / 52.0 - 1)
        # exactly 25% off the median still passes; just over does not
        self.assertEqual(cj.not_bimodal([75.0, 100.0, 125.0])["verdict"], "PASS")
        self.assertEqual(cj.not_bimodal([74.0, 100.0, 125.0])["verdict"], "MISS")

    def test_overall(self):
        self.assertEqual(cj.overall(["PASS", "INFO", "PASS"]), "PASS")
        self.assertEqual(cj.overall(["PASS", "WITHIN-NOISE"]), "WITHIN-NOISE")
        self.assertEqual(cj.overall(["WITHIN-NOISE", "MISS", "PASS"]), "MISS")
        self.assertEqual(cj.overall(["INFO"]), "INFO")


class JudgeCommand(unittest.TestCase):
    SPEC = {"comparisons": [
        {"key": "bw", "name": "stream", "unit": "Gb/s", "direction": "higher", "target": 1.0, "peer": "iperf3"},
        {"key": "lat", "name": "ping-pong p50", "unit": "us", "direction": "lower", "target": 1.1, "peer": "sockperf"},
        {"key": "p99", "name": "p99", "unit": "us", "direction": "lower", "target": None}],
        "checks": [{"key": "lat", "name": "p50 not bimodal", "kind": "not_bimodal", "of": "fabricbench",
                    "tolerance": 0.25}],
        "figures": [{"key": "q", "name": "queueing p50", "unit": "us"}]}

    def run_judge(self, values):
        with tempfile.TemporaryDirectory() as d:
            p = lambda n: os.path.join(d, n)  # noqa: E731
            with open(p("spec.json"), "w") as f:
                json.dump(self.SPEC, f)
            with open(p("values.tsv"), "w") as f:
                f.write("".join(f"{k}\t{r}\t{side}\t{v}\n" for k, r, side, v in values))
            for n in ("before.json", "after.json"):
                with open(p(n), "w") as f:
                    json.dump(cj.load_now(), f)
            with open(p("order.tsv"), "w") as f:
                f.write("1\tpeer\n2\tfabricbench\n3\tpeer\n")
            out = io.StringIO()
            with redirect_stdout(out):
                rc = cj.main(["judge", "--spec", p("spec.json"), "--values", p("values.tsv"), "--script", "t",
                              "--rounds", "3", "--load-before", p("before.json"), "--load-after", p("after.json"),
                              "--order", p("order.tsv"), "--command-line", "t 3", "-o", p("out.json")])
            doc = None
            if os.path.exists(p("out.json")):
                with open(p("out.json")) as f:
                    doc = json.load(f)
            return rc, doc, out.getvalue()

    def values(self, lat_fb=(10, 10.5, 11)):
        v = []
        for r in (1, 2, 3):
            v += [("bw", r, "fabricbench", 20 + r), ("bw", r, "peer", 20),
                  ("lat", r, "fabricbench", lat_fb[r - 1]), ("lat", r, "peer", 10),
                  ("p99", r, "fabricbench", 100), ("p99", r, "peer", 50), ("q", r, "fabricbench", 0.5)]
        return v

    def test_json_has_every_figure(self):
        rc, doc, table = self.run_judge(self.values())
        self.assertEqual(rc, 0)
        self.assertEqual(doc["schema"], cj.SCHEMA)
        self.assertEqual(doc["rounds"], 3)
        self.assertEqual(doc["command_line"], "t 3")
        self.assertEqual(doc["order"], {"1": "peer", "2": "fabricbench", "3": "peer"})
        for k in ("nproc", "kernel", "cpu_model", "commit"):
            self.assertIn(k, doc["machine"])
        self.assertIn("loadavg", doc["load_before"])
        bw, lat, p99 = doc["comparisons"]
        self.assertEqual(bw["fabricbench_values"], [21, 22, 23])
        self.assertEqual(bw["peer_values"], [20, 20, 20])
        self.assertEqual(bw["ratios"], [1.05, 1.1, 1.15])
        self.assertEqual((bw["direction"], bw["target_ratio"], bw["unit"]), ("higher", 1.0, "Gb/s"))
        for k in ("median_ratio", "spread", "verdict", "name"):
            self.assertIn(k, bw)
        self.assertEqual([c["verdict"] for c in doc["comparisons"]], ["PASS", "PASS", "INFO"])
        self.assertEqual(doc["checks"][0]["verdict"], "PASS")
        self.assertEqual(doc["figures"][0]["median"], 0.5)
        self.assertEqual(doc["verdict"], "PASS")
        self.assertIn("| stream |", table)
        self.assertIn("overall: PASS", table)

    def test_bimodal_rounds_fail_their_check(self):
        rc, doc, table = self.run_judge(self.values(lat_fb=(10, 10.5, 15)))
        self.assertEqual(rc, 0)
        self.assertEqual(doc["checks"][0]["verdict"], "MISS")
        self.assertEqual(doc["verdict"], "MISS")
        self.assertIn("(bimodal)", table)

    def test_a_missing_round_is_an_error(self):
        rc, doc, _ = self.run_judge([v for v in self.values() if not (v[0] == "lat" and v[1] == 2)])
        self.assertEqual(rc, 1)
        self.assertIsNone(doc)


if __name__ == "__main__":
    unittest.main(verbosity=1)

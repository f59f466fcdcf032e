#!/usr/bin/env python3
"""The shared judge of the comparison scripts (docs/PERFORMANCE.md, "How the comparisons judge").

ci/compare-tcp.sh, ci/compare-regimes.sh, ci/vm/compare-perftest.sh and ci/compare-imb.sh run
fabricbench and a peer tool in interleaved rounds; this file holds everything they share, so
that it is written (and tested, tests/compare) once:

  parsers   the peer tools' outputs: iperf3 -J, sockperf's summary, perftest's result table,
            IMB-MPI1's tables (and fabricbench's run.json where a script needs one figure)
  judge     per comparison: per-round ratios fabricbench/peer, their median, min, max and
            spread, and the verdict on the median against the target; the not-bimodal check
  facts     the machine (nproc, kernel, CPU model, commit) and its load (/proc/loadavg,
            runnable processes) before and after the rounds
  report    the table on stdout and one JSON file with every figure

Verdicts (ratio = fabricbench / peer in every round; "lower" or "higher" is better):
  PASS          the median ratio meets the target
  WITHIN-NOISE  the median misses the target by less than the spread of the ratios:
                |median - target| < max - min (equivalently, the miss relative to the median
                is smaller than the spread (max - min) / median); noise cannot tell
  MISS          the median misses the target by the spread or more
  INFO          no target: shown, not judged
The not-bimodal check (its own row): PASS when every round's value is within the tolerance
(25 % by default) of the median of the rounds, MISS (bimodal) otherwise.

Command line (python3, standard library only):
  compare_judge.py load                      the load now, as JSON
  compare_judge.py parse iperf3 FILE         receiver Gb/s of an `iperf3 -J` client output
  compare_judge.py parse sockperf FILE [--percentile P]... [--expect rtt|latency]
                                             the percentiles (usec), one per line
  compare_judge.py parse perftest FILE --size N --column NAME [--unit U]
                                             one column of the result row of message size N
  compare_judge.py parse fabricbench RUN_JSON --case ID --field a.b.c
                                             one field of the first repetition of a case
  compare_judge.py judge --spec SPEC.json --values VALUES.tsv --script NAME --rounds N
          --load-before F --load-after F --command-line STR -o OUT.json [--order ORDER.tsv]
                                             prints the table, writes OUT.json
VALUES.tsv: one line per figure, `key<TAB>round<TAB>fabricbench|peer<TAB>value`.
ORDER.tsv:  one line per round, `round<TAB>the tool that went first`.
SPEC.json:  {"comparisons": [{"key", "name", "unit", "direction": "lower"|"higher",
             "target": ratio or null, "peer": "iperf3 ..."}],
             "checks": [{"key", "name", "kind": "not_bimodal", "of": "fabricbench"|"peer",
             "tolerance": 0.25}],
             "figures": [{"key", "name", "unit", "of": "fabricbench"|"peer"}]}
            (figures: shown per round with their median, not judged)
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys

SCHEMA = "fabricbench-compare/1"
SPREAD_DEFINITION = "(max - min) / median of the per-round ratios"
WITHIN_NOISE_RULE = "the median misses the target by less than max - min of the per-round ratios"
BIMODAL_TOLERANCE = 0.25


class ParseError(ValueError):
    """A peer tool's output lacks the figure asked for."""


# --- parsers ------------------------------------------------------------------------------------

def iperf3_gbps(text):
    """Receiver-counted Gb/s of an `iperf3 -c ... -J` output (end.sum_received.bits_per_second)."""
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise ParseError(f"iperf3 output is not JSON (-J): {e}") from None
    if doc.get("error"):
        raise ParseError(f"iperf3 reported an error: {doc['error']}")
    try:
        return float(doc["end"]["sum_received"]["bits_per_second"]) / 1e9
    except (KeyError, TypeError):
        raise ParseError("iperf3 output has no end.sum_received.bits_per_second") from None


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def sockperf_summary(text):
    """sockperf's client summary (ping-pong, under-load):
    {"kind": "rtt" (--full-rtt: "Round trip is") or "latency" (half round trip),
     "avg": usec, "observations": n, "min": usec, "max": usec, "percentiles": {50.0: usec, ...}}
    """
    text = _ANSI.sub("", text)
    m = re.search(r"Summary: (Round trip|Latency) is\s+([0-9.]+) usec", text)
    if not m:
        raise ParseError("sockperf output has no 'Summary: Round trip|Latency is' line")
    out = {"kind": "rtt" if m.group(1) == "Round trip" else "latency", "avg": float(m.group(2)),
           "percentiles": {}}
    m = re.search(r"Total (\d+) observations", text)
    out["observations"] = int(m.group(1)) if m else None
    for key, tag in (("max", "MAX"), ("min", "MIN")):
        m = re.search(r"<" + tag + r"> observation =\s+([0-9.]+)", text)
        out[key] = float(m.group(1)) if m else None
    for p, v in re.findall(r"percentile\s+([0-9.]+)\s+=\s+([0-9.]+)", text):
        out["percentiles"][float(p)] = float(v)
    if not out["percentiles"]:
        raise ParseError("sockperf output has no percentile lines")
    return out


def sockperf_percentile(text, percentile, expect=None):
    """One percentile (usec) of sockperf's summary; expect "rtt" or "latency" checks the kind."""
    s = sockperf_summary(text)
    if expect and s["kind"] != expect:
        raise ParseError(f"sockperf reported {s['kind']}, not {expect}"
                         + (" (--full-rtt missing?)" if expect == "rtt" else ""))
    if float(percentile) not in s["percentiles"]:
        raise ParseError(f"sockperf output has no percentile {percentile}")
    return s["percentiles"][float(percentile)]


# perftest's result header: "#bytes", "#iterations", then names ending in a unit in brackets,
# some with a space inside ("BW average[Gb/sec]", "99% percentile[usec]").
_PERFTEST_COLUMN = re.compile(r"#\w+|[^\s\[\]#][^\[\]#]*?\[[^\]]*\]")


def perftest_rows(text):
    """Every result row of perftest's table: a list of {column name: float}, the names as the
    header prints them ("#bytes", "BW average[Gb/sec]", "t_typical[usec]", ...)."""
    rows, header = [], None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#bytes"):
            header = [c.strip() for c in _PERFTEST_COLUMN.findall(s)]
            continue
        if header is None or not s or s.startswith("-"):
            continue
        fields = s.split()
        try:
            values = [float(x) for x in fields]
        except ValueError:
            header = None  # a table ends at the first line that is not numbers
            continue
        if len(values) < len(header):
            continue
        rows.append(dict(zip(header, values)))
    return rows


def perftest_value(text, size, column, unit=None):
    """The value of the column whose name starts with `column` ("BW average", "t_typical") in
    the row of message size `size`; `unit` ("Gb/sec", "usec") must match its bracket."""
    rows = [r for r in perftest_rows(text) if int(r.get("#bytes", -1)) == int(size)]
    if not rows:
        raise ParseError(f"perftest output has no result row for {size} bytes")
    row = rows[-1]
    names = [n for n in row if n.split("[")[0].strip() == column]
    if not names:
        raise ParseError(f"perftest's table has no column '{column}' (has {', '.join(row)})")
    name = names[0]
    if unit is not None and not name.endswith(f"[{unit}]"):
        raise ParseError(f"perftest's column is {name}, not in {unit} (--report_gbits missing?)")
    return row[name]


def imb_tables(text, ranks):
    """IMB-MPI1's tables at `ranks` processes:
    {benchmark: {bytes: {"reps", "t_min", "t_max", "t_avg" (usec)}}}."""
    out, bench, procs = {}, None, None
    row = re.compile(r"^\s*(\d+)\s+(\d+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s*$")
    for line in text.splitlines():
        m = re.match(r"^# Benchmarking (\S+)", line)
        if m:
            bench, procs = m.group(1), None
            continue
        m = re.match(r"^# #processes = (\d+)", line)
        if m:
            procs = int(m.group(1))
            continue
        m = row.match(line)
        if m and bench and procs == ranks:
            out.setdefault(bench, {})[int(m.group(1))] = {
                "reps": int(m.group(2)),
                "t_min": float(m.group(3)),
                "t_max": float(m.group(4)),
                "t_avg": float(m.group(5)),
            }
    return out


def fabricbench_field(doc, case_id, field):
    """`field` (dotted path) of the first repetition of case `case_id` (or of the only case when
    case_id is None) in a fabricbench run document."""
    cases = doc.get("cases", [])
    if case_id is None:
        if len(cases) != 1:
            raise ParseError(f"the run has {len(cases)} cases; name one")
        case = cases[0]
    else:
        found = [c for c in cases if c.get("id") == case_id or c.get("name") == case_id]
        if not found:
            raise ParseError(f"no case {case_id} in the run ({', '.join(c.get('id', '?') for c in cases)})")
        case = found[0]
    if case.get("status", "ok") != "ok":
        raise ParseError(f"case {case.get('id')}: {case.get('status')} {case.get('errors', '')}")
    v = case["repetitions"][0]
    for part in field.split("."):
        if not isinstance(v, dict) or part not in v:
            raise ParseError(f"case {case.get('id')} has no {field}")
        v = v[part]
    return float(v)


# --- the judge ----------------------------------------------------------------------------------

def judge(fabricbench, peer, direction, target):
    """Judges one comparison from the per-round values of both tools."""
    if len(fabricbench) != len(peer) or not fabricbench:
        raise ValueError(f"{len(fabricbench)} fabricbench and {len(peer)} peer values")
    if direction not in ("lower", "higher"):
        raise ValueError(f"direction '{direction}': lower or higher")
    if any(p <= 0 for p in peer) or any(f < 0 for f in fabricbench):
        raise ValueError("a peer value <= 0 or a negative fabricbench value: no ratio")
    ratios = [f / p for f, p in zip(fabricbench, peer)]
    med = statistics.median(ratios)
    lo, hi = min(ratios), max(ratios)
    out = {"ratios": ratios, "median_ratio": med, "min_ratio": lo, "max_ratio": hi,
           "spread": (hi - lo) / med if med > 0 else None}
    if target is None:
        out["verdict"] = "INFO"
        return out
    meets = med <= target if direction == "lower" else med >= target
    miss = abs(med - target)
    out["miss"] = 0.0 if meets else miss / med
    if meets:
        out["verdict"] = "PASS"
    elif miss < hi - lo:
        out["verdict"] = "WITHIN-NOISE"
    else:
        out["verdict"] = "MISS"
    return out


def not_bimodal(values, tolerance=BIMODAL_TOLERANCE):
    """PASS when every value is within `tolerance` (a fraction) of the median of the values."""
    med = statistics.median(values)
    devs = [v / med - 1.0 for v in values] if med > 0 else [float("inf")] * len(values)
    worst = max(range(len(devs)), key=lambda i: abs(devs[i]))
    return {"median": med, "deviations": devs, "worst_round": worst + 1,
            "worst_deviation": devs[worst], "tolerance": tolerance,
            "verdict": "PASS" if all(abs(d) <= tolerance for d in devs) else "MISS"}


def overall(verdicts):
    """MISS if any is MISS, else WITHIN-NOISE if any is, else PASS (INFO does not count)."""
    vs = [v for v in verdicts if v != "INFO"]
    for v in ("MISS", "WITHIN-NOISE"):
        if v in vs:
            return v
    return "PASS" if vs else "INFO"


# --- machine facts ------------------------------------------------------------------------------

def load_now():
    """/proc/loadavg and the runnable processes now (procs_running of /proc/stat counts the
    tasks on a CPU or waiting for one, this script's own reader included)."""
    out = {"time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    try:
        with open("/proc/loadavg") as f:
            fields = f.read().split()
        out["loadavg"] = " ".join(fields)
        out["load1"], out["load5"], out["load15"] = (float(x) for x in fields[:3])
        running, total = fields[3].split("/")
        out["loadavg_runnable"], out["loadavg_tasks"] = int(running), int(total)
    except (OSError, ValueError, IndexError):
        out["loadavg"] = None
    try:
        with open("/proc/stat") as f:
            for line in f:
                k, _, v = line.partition(" ")
                if k in ("procs_running", "procs_blocked"):
                    out[k] = int(v)
    except OSError:
        pass
    return out


def machine_facts(repo):
    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    commit = None
    try:
        commit = subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        if dirty:
            commit += "-dirty"
    except (OSError, subprocess.CalledProcessError):
        pass
    return {"hostname": platform.node(), "nproc": os.cpu_count(), "kernel": platform.release(),
            "cpu_model": cpu, "commit": commit}


# --- the report ---------------------------------------------------------------------------------

def read_values(path):
    """{key: {"fabricbench": {round: v}, "peer": {round: v}}} from VALUES.tsv."""
    out = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 4 or parts[2] not in ("fabricbench", "peer"):
                raise ValueError(f"{path}:{n}: want key<TAB>round<TAB>fabricbench|peer<TAB>value: {line!r}")
            out.setdefault(parts[0], {"fabricbench": {}, "peer": {}})[parts[2]][int(parts[1])] = float(parts[3])
    return out


def build_report(spec, values, rounds, meta):
    """The JSON document: meta plus every comparison and check, judged."""
    doc = {"schema": SCHEMA, **meta, "rounds": rounds, "ratio": "fabricbench / peer",
           "spread_definition": SPREAD_DEFINITION, "within_noise_rule": WITHIN_NOISE_RULE,
           "comparisons": [], "checks": []}
    missing = []

    def series(key, side):
        got = values.get(key, {}).get(side, {})
        lack = [r for r in range(1, rounds + 1) if r not in got]
        if lack:
            missing.append(f"{key} {side} round(s) {lack}")
            return None
        return [got[r] for r in range(1, rounds + 1)]

    for c in spec.get("comparisons", []):
        fb, peer = series(c["key"], "fabricbench"), series(c["key"], "peer")
        if fb is None or peer is None:
            continue
        entry = {"key": c["key"], "name": c["name"], "unit": c["unit"], "direction": c["direction"],
                 "target_ratio": c.get("target"), "peer": c.get("peer"),
                 "fabricbench_values": fb, "peer_values": peer,
                 "fabricbench_median": statistics.median(fb), "peer_median": statistics.median(peer)}
        for k in ("fabricbench", "note"):
            if c.get(k):
                entry[k if k == "note" else "fabricbench_case"] = c[k]
        entry.update(judge(fb, peer, c["direction"], c.get("target")))
        doc["comparisons"].append(entry)
    for c in spec.get("checks", []):
        if c.get("kind", "not_bimodal") != "not_bimodal":
            raise ValueError(f"unknown check kind {c.get('kind')}")
        vals = series(c["key"], c.get("of", "fabricbench"))
        if vals is None:
            continue
        entry = {"key": c["key"], "name": c["name"], "kind": "not_bimodal", "of": c.get("of", "fabricbench"),
                 "unit": c.get("unit"), "values": vals}
        entry.update(not_bimodal(vals, c.get("tolerance", BIMODAL_TOLERANCE)))
        doc["checks"].append(entry)
    doc["figures"] = []
    for c in spec.get("figures", []):
        vals = series(c["key"], c.get("of", "fabricbench"))
        if vals is not None:
            doc["figures"].append({"key": c["key"], "name": c["name"], "unit": c.get("unit"),
                                   "of": c.get("of", "fabricbench"), "values": vals,
                                   "median": statistics.median(vals)})
    if missing:
        raise ValueError("missing figures: " + "; ".join(missing))
    doc["verdict"] = overall([c["verdict"] for c in doc["comparisons"] + doc["checks"]])
    return doc


def _g(x):
    return f"{x:.4g}" if isinstance(x, (int, float)) else "—"


def render_table(doc):
    lines = [f"{doc.get('script', '')}: {doc['rounds']} interleaved round(s); ratio = fabricbench / peer "
             f"per round; spread = {SPREAD_DEFINITION}"]
    lines.append("| comparison | fabricbench (median) | peer (median) | ratios per round | median ratio "
                 "| min..max | spread | target | verdict |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for c in doc["comparisons"]:
        tgt = "—" if c["target_ratio"] is None else (("<= " if c["direction"] == "lower" else ">= ")
                                                     + f"{c['target_ratio']:.2f}")
        lines.append(f"| {c['name']} | {_g(c['fabricbench_median'])} {c['unit']} | "
                     f"{_g(c['peer_median'])} {c['unit']} | "
                     + " ".join(f"{r:.3f}" for r in c["ratios"])
                     + f" | **{c['median_ratio']:.3f}** | {c['min_ratio']:.3f}..{c['max_ratio']:.3f} | "
                     f"{c['spread'] * 100:.1f}% | {tgt} | {c['verdict']} |")
    for c in doc["checks"]:
        lines.append(f"| {c['name']} | {_g(c['median'])} {c.get('unit') or ''} | — | "
                     + " ".join(f"{d * 100:+.0f}%" for d in c["deviations"])
                     + f" (from the median) | — | worst: round {c['worst_round']} {c['worst_deviation'] * 100:+.1f}% "
                     f"| — | every round within {c['tolerance'] * 100:.0f}% | {c['verdict']}"
                     + ("" if c["verdict"] == "PASS" else " (bimodal)") + " |")
    lines.append("")
    lines.append("per round (fabricbench / peer):")
    for c in doc["comparisons"]:
        lines.append(f"  {c['name']} [{c['unit']}]: "
                     + ", ".join(f"{_g(f)} / {_g(p)}" for f, p in zip(c["fabricbench_values"], c["peer_values"])))
    for c in doc.get("figures", []):
        lines.append(f"  {c['name']} [{c.get('unit') or ''}] ({c['of']}, not judged): "
                     + ", ".join(_g(v) for v in c["values"]) + f"; median {_g(c['median'])}")
    if doc.get("order"):
        lines.append("first in each round: " + ", ".join(f"{r}: {t}" for r, t in sorted(doc["order"].items(),
                                                                                        key=lambda x: int(x[0]))))
    lb, la = doc.get("load_before") or {}, doc.get("load_after") or {}
    m = doc.get("machine") or {}
    lines.append(f"machine: {m.get('nproc')} CPUs, {m.get('cpu_model')}, kernel {m.get('kernel')}, "
                 f"commit {m.get('commit')}")
    lines.append(f"load before: {lb.get('loadavg')} (procs_running {lb.get('procs_running')}); "
                 f"after: {la.get('loadavg')} (procs_running {la.get('procs_running')})")
    lines.append(f"overall: {doc['verdict']}")
    return "\n".join(lines)


def write_json(doc, path):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


# --- command line -------------------------------------------------------------------------------

def _read(path):
    with open(path, errors="replace") as f:
        return f.read()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("load")
    p = sub.add_parser("facts")
    p.add_argument("--repo", default=os.path.dirname(os.path.abspath(__file__)))
    p = sub.add_parser("parse")
    p.add_argument("tool", choices=["iperf3", "sockperf", "perftest", "fabricbench"])
    p.add_argument("file")
    p.add_argument("--percentile", action="append", type=float)
    p.add_argument("--expect", choices=["rtt", "latency"])
    p.add_argument("--size", type=int)
    p.add_argument("--column")
    p.add_argument("--unit")
    p.add_argument("--case")
    p.add_argument("--field")
    p.add_argument("--scale", type=float, default=1.0, help="multiply the figure by this")
    p = sub.add_parser("judge")
    p.add_argument("--spec", required=True)
    p.add_argument("--values", required=True)
    p.add_argument("--order")
    p.add_argument("--script", required=True)
    p.add_argument("--rounds", type=int, required=True)
    p.add_argument("--load-before", required=True)
    p.add_argument("--load-after", required=True)
    p.add_argument("--command-line", default="")
    p.add_argument("--repo", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p.add_argument("--note", action="append", default=[])
    p.add_argument("-o", "--output", required=True)
    a = ap.parse_args(argv)
    try:
        if a.cmd == "load":
            print(json.dumps(load_now()))
        elif a.cmd == "facts":
            print(json.dumps(machine_facts(a.repo)))
        elif a.cmd == "parse":
            text = _read(a.file)
            if a.tool == "iperf3":
                vals = [iperf3_gbps(text)]
            elif a.tool == "sockperf":
                vals = [sockperf_percentile(text, p, a.expect) for p in (a.percentile or [50.0])]
            elif a.tool == "perftest":
                if a.size is None or not a.column:
                    ap.error("parse perftest wants --size and --column")
                vals = [perftest_value(text, a.size, a.column, a.unit)]
            else:
                if not a.field:
                    ap.error("parse fabricbench wants --field")
                vals = [fabricbench_field(json.loads(text), a.case, a.field)]
            print(*(v * a.scale for v in vals))
        else:
            with open(a.spec) as f:
                spec = json.load(f)
            order = {}
            if a.order and os.path.exists(a.order):
                for line in _read(a.order).splitlines():
                    if line.strip():
                        r, first = line.split("\t", 1)
                        order[r] = first
            meta = {"script": a.script, "command_line": a.command_line,
                    "finished": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "machine": machine_facts(a.repo),
                    "load_before": json.loads(_read(a.load_before)),
                    "load_after": json.loads(_read(a.load_after)), "order": order}
            if a.note:
                meta["notes"] = a.note
            doc = build_report(spec, read_values(a.values), a.rounds, meta)
            write_json(doc, a.output)
            print(render_table(doc))
            print(f"figures: {os.path.abspath(a.output)}")
    except ParseError as e:
        print(f"compare_judge: {getattr(a, 'file', '')}: {e}", file=sys.stderr)
        return 1
    except (OSError, ValueError, KeyError) as e:
        print(f"compare_judge: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Parsing and the ratio table of ci/compare-imb.sh (fabricbench collective floor vs IMB-MPI1).

  compare-imb.py check-imb IMB_OUTPUT RANKS     exit 1 unless every benchmark and size is there
  compare-imb.py check-fb RUN_JSON RANKS        exit 1 unless the run has every collective's times
  compare-imb.py report OUT --rounds K --ranks "2 4" [--imb-only] [--target 1.05]
          [--json FILE --load-before F --load-after F --command-line STR --order F]
                                                the Markdown table; OUT/results.json gets the data,
                                                FILE (compare_judge.py's JSON) every row judged

Each (collective, ranks, IMB #bytes) row is one comparison of compare_judge.py: the per-round
ratios fabricbench t / IMB t_avg (lower is better), their median, min..max and spread, and the
verdict on the median against --target (default 1.05: "within 5% of IMB's t_avg", a faster
row passes): PASS, WITHIN-NOISE (misses by less than max - min of the ratios) or MISS.

Size columns: IMB's #bytes is the count argument in bytes (Allreduce, Bcast: the buffer;
Allgather: each rank's send block; Alltoall: the block for each peer; Reduce_scatter: each
rank's received block). fabricbench's size_bytes follows nccl-tests, max(send, recv) bytes per
rank, so it is N x IMB #bytes for all_gather, alltoall and reduce_scatter.
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_judge  # noqa: E402  (the shared parsers, judge and JSON writer)

# IMB benchmark -> (fabricbench collective, size_bytes = IMB #bytes times ranks?)
COLLECTIVES = {
    "Allreduce": ("all_reduce", False),
    "Allgather": ("all_gather", True),
    "Bcast": ("broadcast", False),
    "Alltoall": ("alltoall", True),
    "Reduce_scatter": ("reduce_scatter", True),
}
SIZES = [1 << e for e in range(3, 21)]  # -msglog 3:20 -zero_size off: 8 B .. 1 MiB


def fail(msg):
    print(f"compare-imb: {msg}", file=sys.stderr)
    sys.exit(1)


def parse_imb(path, ranks):
    """{benchmark: {bytes: {"t_min", "t_max", "t_avg" (us), "reps"}}} of the block at `ranks`."""
    with open(path, errors="replace") as f:
        return compare_judge.imb_tables(f.read(), ranks)


def imb_problems(data):
    problems = []
    for bench in COLLECTIVES:
        if bench not in data:
            problems.append(f"no '{bench}' table at this rank count")
            continue
        missing = [s for s in SIZES if s not in data[bench]]
        if missing:
            problems.append(f"{bench}: no row for {len(missing)} size(s), first {missing[0]} B")
    return problems


def imb_bytes_of(collective, size_bytes, ranks):
    """IMB's #bytes for a fabricbench (collective, size_bytes), or None if it has none."""
    times_n = {c: t for c, t in COLLECTIVES.values()}[collective]
    if not times_n:
        return size_bytes
    return size_bytes // ranks if size_bytes % ranks == 0 else None


def parse_fb(path, ranks):
    """({collective: {imb_bytes: {"size_bytes", "time_us"}}}, [problems]) of one run document."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        return {}, [f"cannot read {path}: {e}"]
    problems = []
    run = doc.get("run", {})
    if run.get("status") != "complete":
        problems.append(f"run status '{run.get('status')}'"
                        + (f", in case {run['interrupted_case']}" if run.get("interrupted_case") else ""))
    if run.get("ranks") not in (None, ranks):
        problems.append(f"the run had {run.get('ranks')} ranks, not {ranks}")
    out = {}
    for case in doc.get("cases", []):
        cid = case.get("id", "?")
        if case.get("suite") != "collective":
            continue
        if case.get("status") != "ok":
            why = case.get("skip_reason") or "; ".join(
                f"rank {e.get('rank')}: {e.get('message')}" for e in case.get("errors", []))
            problems.append(f"case {cid}: {case.get('status')}{': ' + why if why else ''}")
            continue
        params = case.get("params", {})
        if params.get("regime", {}).get("kind", "floor") != "floor":
            problems.append(f"case {cid}: regime {params.get('regime')}, not floor")
        per_size = {}
        for rep in case.get("repetitions", []):
            c = rep.get("collective") or {}
            name = c.get("collective") or params.get("collective")
            t = (c.get("out_of_place") or c.get("in_place") or {}).get("time_us")
            if name not in {v[0] for v in COLLECTIVES.values()} or c.get("size_bytes") is None or t is None:
                problems.append(f"case {cid}: a repetition without collective, size_bytes or "
                                f"out_of_place.time_us: {json.dumps(c)[:200]}")
                continue
            per_size.setdefault((name, int(c["size_bytes"])), []).append(float(t))
        for (name, size_bytes), times in per_size.items():
            if size_bytes == 0:
                continue  # a swept size too small to give each rank a share
            b = imb_bytes_of(name, size_bytes, ranks)
            if b is None:
                continue
            out.setdefault(name, {})[b] = {"size_bytes": size_bytes,
                                           "time_us": statistics.median(times), "case": cid}
    for name, _ in COLLECTIVES.values():
        if name not in out:
            problems.append(f"no figures for {name}")
    return out, problems


def fmt_us(x):
    return "—" if x is None else (f"{x:.2f}" if x < 100 else f"{x:.1f}")


def fmt_size(b):
    for unit, n in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= n and b % n == 0:
            return f"{b // n}{unit}"
    return f"{b}B"


def spread(values):
    """min/median .. max/median of values (run-to-run spread), and max/min - 1."""
    med = statistics.median(values)
    return min(values) / med, max(values) / med, max(values) / min(values) - 1.0


def report(out, rounds, ranks_list, imb_only, target=1.05, meta=None, json_path=None):
    imb = {}   # (n, round) -> parsed
    fb = {}
    for n in ranks_list:
        for k in range(1, rounds + 1):
            imb[(n, k)] = parse_imb(os.path.join(out, f"imb-{n}-round{k}.txt"), n)
            if not imb_only:
                fb[(n, k)], problems = parse_fb(os.path.join(out, f"run-{n}-round{k}", "run.json"), n)
                if problems:
                    fail(f"run-{n}-round{k}: " + "; ".join(problems))
    results = {"rounds": rounds, "ranks": ranks_list, "rows": []}
    lines = [f"fabricbench collective floor vs IMB-MPI1, {rounds} round(s); times in us per "
             "collective (IMB t_avg: the mean over ranks of each rank's mean per call)."]
    if not imb_only:
        lines.append("fb/IMB: median over rounds of the per-round ratio (min..max in brackets). "
                     "IMB spread: IMB's t_avg per round over its median (min..max).")
    all_imb_spread, all_fb_spread = [], []
    summary = []
    spec, values = {"comparisons": []}, {}
    for bench, (name, times_n) in COLLECTIVES.items():
        for n in ranks_list:
            lines.append("")
            size_note = f"size_bytes = {n} x IMB #bytes" if times_n else "size_bytes = IMB #bytes"
            lines.append(f"### {bench} / {name}, {n} ranks ({size_note})")
            lines.append("")
            if imb_only:
                lines.append("| IMB #bytes | IMB t_avg (median) | IMB t_min..t_max (median) | reps | IMB spread |")
                lines.append("|---:|---:|---:|---:|---:|")
            else:
                lines.append("| IMB #bytes | fb size_bytes | IMB t_avg | fabricbench | fb/IMB | [min..max] | IMB spread | fb spread | verdict |")
                lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
            ratios_here, imb_spreads = [], []
            for size in SIZES:
                iv = [imb[(n, k)].get(bench, {}).get(size) for k in range(1, rounds + 1)]
                if any(v is None for v in iv):
                    continue
                it = [v["t_avg"] for v in iv]
                lo, hi, rel = spread(it)
                imb_spreads.append(rel)
                all_imb_spread.append(rel)
                row = {"benchmark": bench, "collective": name, "ranks": n, "imb_bytes": size,
                       "imb_t_avg_us": it, "imb_reps": [v["reps"] for v in iv]}
                if imb_only:
                    tmin = statistics.median(v["t_min"] for v in iv)
                    tmax = statistics.median(v["t_max"] for v in iv)
                    lines.append(f"| {fmt_size(size)} | {fmt_us(statistics.median(it))} | "
                                 f"{fmt_us(tmin)}..{fmt_us(tmax)} | {iv[0]['reps']} | {lo:.2f}..{hi:.2f} |")
                else:
                    fv = [fb[(n, k)].get(name, {}).get(size) for k in range(1, rounds + 1)]
                    if any(v is None for v in fv):
                        lines.append(f"| {fmt_size(size)} | — | {fmt_us(statistics.median(it))} | — | "
                                     f"— | | {lo:.2f}..{hi:.2f} | | |")
                    else:
                        ft = [v["time_us"] for v in fv]
                        r = [f / i for f, i in zip(ft, it)]
                        flo, fhi, frel = spread(ft)
                        all_fb_spread.append(frel)
                        ratios_here.append(statistics.median(r))
                        row.update({"fb_size_bytes": fv[0]["size_bytes"], "fb_time_us": ft, "ratio": r})
                        key = f"{bench}-{n}-{size}"
                        spec["comparisons"].append({
                            "key": key, "name": f"{bench} {n} ranks IMB #bytes {fmt_size(size)}", "unit": "us",
                            "direction": "lower", "target": target,
                            "fabricbench": f"{name} size_bytes {fv[0]['size_bytes']} ({fv[0]['case']})",
                            "peer": f"IMB-MPI1 {bench} t_avg at #bytes {size}"})
                        values[key] = {"fabricbench": dict(enumerate(ft, 1)), "peer": dict(enumerate(it, 1))}
                        verdict = compare_judge.judge(ft, it, "lower", target)["verdict"]
                        row["verdict"] = verdict
                        lines.append(f"| {fmt_size(size)} | {fmt_size(fv[0]['size_bytes'])} | "
                                     f"{fmt_us(statistics.median(it))} | {fmt_us(statistics.median(ft))} | "
                                     f"**{statistics.median(r):.2f}** | [{min(r):.2f}..{max(r):.2f}] | "
                                     f"{lo:.2f}..{hi:.2f} | {flo:.2f}..{fhi:.2f} | {verdict} |")
                results["rows"].append(row)
            s = {"benchmark": bench, "ranks": n,
                 "imb_spread_median": statistics.median(imb_spreads) if imb_spreads else None}
            if ratios_here:
                s["ratio_median"] = statistics.median(ratios_here)
                s["ratio_min"], s["ratio_max"] = min(ratios_here), max(ratios_here)
            summary.append(s)
    lines.append("")
    lines.append("### Summary")
    lines.append("")
    if imb_only:
        lines.append("| IMB benchmark | ranks | median over sizes of IMB's run-to-run spread (max/min - 1) |")
        lines.append("|---|---:|---:|")
        for s in summary:
            sp = s["imb_spread_median"]
            lines.append(f"| {s['benchmark']} | {s['ranks']} | {'—' if sp is None else f'{sp * 100:.1f}%'} |")
    else:
        lines.append("| IMB benchmark | ranks | fb/IMB, median over sizes [min..max of sizes] | IMB run-to-run spread, median over sizes |")
        lines.append("|---|---:|---:|---:|")
        for s in summary:
            sp = s["imb_spread_median"]
            rr = (f"{s['ratio_median']:.2f} [{s['ratio_min']:.2f}..{s['ratio_max']:.2f}]"
                  if "ratio_median" in s else "—")
            lines.append(f"| {s['benchmark']} | {s['ranks']} | {rr} | {'—' if sp is None else f'{sp * 100:.1f}%'} |")
    if all_imb_spread:
        lines.append("")
        lines.append(f"IMB's own run-to-run spread (max/min - 1 of t_avg over rounds), median over every "
                     f"collective, rank count and size: {statistics.median(all_imb_spread) * 100:.1f}%"
                     + (f"; fabricbench's: {statistics.median(all_fb_spread) * 100:.1f}%" if all_fb_spread else ""))
    results["summary"] = summary
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    if json_path:
        doc = compare_judge.build_report(spec, values, rounds, meta or {})
        doc["imb_summary"] = summary
        compare_judge.write_json(doc, json_path)
        if spec["comparisons"]:
            counts = {v: sum(c["verdict"] == v for c in doc["comparisons"]) for v in ("PASS", "WITHIN-NOISE", "MISS")}
            lines.append("")
            lines.append(f"Verdicts on the median fb/IMB of each row against <= {target:.2f} ({len(doc['comparisons'])} "
                         f"rows; WITHIN-NOISE: misses by less than max - min of the row's ratios): "
                         + ", ".join(f"{k} {v}" for k, v in counts.items()) + f"; overall {doc['verdict']}")
        lb, la = doc["load_before"], doc["load_after"]
        lines.append(f"load before: {lb.get('loadavg')} (procs_running {lb.get('procs_running')}); "
                     f"after: {la.get('loadavg')} (procs_running {la.get('procs_running')})")
        lines.append(f"figures: {json_path}")
    print("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("check-imb")
    a.add_argument("path")
    a.add_argument("ranks", type=int)
    a = sub.add_parser("check-fb")
    a.add_argument("path")
    a.add_argument("ranks", type=int)
    a = sub.add_parser("report")
    a.add_argument("out")
    a.add_argument("--rounds", type=int, required=True)
    a.add_argument("--ranks", required=True)
    a.add_argument("--imb-only", action="store_true")
    a.add_argument("--target", type=float, default=1.05)
    a.add_argument("--json")
    a.add_argument("--load-before")
    a.add_argument("--load-after")
    a.add_argument("--command-line", default="")
    a.add_argument("--order")
    args = ap.parse_args()
    if args.cmd == "check-imb":
        problems = imb_problems(parse_imb(args.path, args.ranks))
        if problems:
            fail(f"{args.path}: " + "; ".join(problems))
    elif args.cmd == "check-fb":
        _, problems = parse_fb(args.path, args.ranks)
        if problems:
            fail(f"{args.path}: " + "; ".join(problems))
    else:
        meta = None
        if args.json:
            def load(path):
                with open(path) as f:
                    return json.load(f)
            order = {}
            if args.order:
                with open(args.order) as f:
                    order = dict(line.rstrip("\n").split("\t", 1) for line in f if line.strip())
            meta = {"script": "compare-imb", "command_line": args.command_line,
                    "machine": compare_judge.machine_facts(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    "load_before": load(args.load_before) if args.load_before else None,
                    "load_after": load(args.load_after) if args.load_after else None,
                    "order": order, "raw_outputs": os.path.abspath(args.out)}
        report(args.out, args.rounds, [int(x) for x in args.ranks.split()], args.imb_only,
               args.target, meta, args.json)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Checks a run document of tests/cluster/launch-test.sh.

  check-run.py RUN_DIR LAUNCHER NODES              a run that completed
  check-run.py RUN_DIR LAUNCHER NODES --lost RANK  a run in which RANK was killed

Completed: schema-valid (ci/validate-run.py), the launcher the document names, every case ok,
the envelopes name NODES distinct hosts node1..nodeN (rank r on node r+1), and every TCP
endpoint connects two different 198.18.0.x addresses, the local one being its own node's, so
the data crossed the bridge between nodes. Lost: the document names the case that was running as
failed with an error naming the lost rank. Prints one line per problem; exit 1 on any.
"""
import json, os, re, subprocess, sys

run_dir, launcher, nodes = sys.argv[1], sys.argv[2], int(sys.argv[3])
lost = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--lost" else None
repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
problems = []


def check(cond, what):
    if not cond:
        problems.append(what)


path = os.path.join(run_dir, "run.json")
if not os.path.exists(path):
    print("FAIL: no run document %s" % path)
    sys.exit(1)
v = subprocess.run([sys.executable, os.path.join(repo, "ci/validate-run.py"),
                    os.path.join(repo, "results/schema/run-v1.schema.json"), run_dir],
                   capture_output=True, text=True)
check(v.returncode == 0, "schema: %s" % (v.stdout + v.stderr).strip()[-400:])
doc = json.load(open(path))
run = doc.get("run", {})
check(run.get("launcher") == launcher, "launcher %r, expected %r" % (run.get("launcher"), launcher))
check(run.get("ranks") == nodes, "ranks %r, expected %d" % (run.get("ranks"), nodes))
if lost is None:
    check(run.get("status") == "complete", "run status %r" % run.get("status"))
else:
    check(run.get("status") == "failed", "run status %r, expected failed" % run.get("status"))
hosts = [r.get("hostname") for r in doc.get("envelope", {}).get("ranks", [])]
check(hosts == ["node%d" % (r + 1) for r in range(nodes)],
      "envelope host names %s, expected node1..node%d in rank order" % (hosts, nodes))
check(len(set(hosts)) == nodes, "%d distinct hosts, expected %d" % (len(set(hosts)), nodes))

addr = re.compile(r"local=(198\.18\.0\.(\d+)):\d+ remote=(198\.18\.0\.(\d+)):\d+")
crossed = set()
for case in doc.get("cases", []):
    if lost is not None and case.get("status") != "ok":
        continue
    check(case.get("status") == "ok", "case %s: status %s %s" % (case.get("id"), case.get("status"), case.get("errors")))
    eps = case.get("endpoints") or []
    check(len(eps) == nodes, "case %s: %d endpoints, expected %d" % (case.get("id"), len(eps), nodes))
    for rank, text in enumerate(eps):
        found = addr.findall(text or "")
        check(found, "case %s rank %d: endpoint not between 198.18.0.x addresses: %r" % (case.get("id"), rank, text))
        for local, lnode, remote, rnode in found:
            check(local != remote, "case %s rank %d: %s talks to itself" % (case.get("id"), rank, local))
            check(int(lnode) == rank + 1, "case %s rank %d: local address %s is not node%d's" % (case.get("id"), rank, local, rank + 1))
            crossed.add((local, remote))
check(lost is not None or len({a for pair in crossed for a in pair}) == nodes,
      "TCP connections used %s, expected all %d nodes' addresses" % (sorted(crossed), nodes))

if lost is not None:
    failed = [c for c in doc.get("cases", []) if c.get("status") != "ok"]
    check(failed, "no failed case in the document (statuses %s)" % [c.get("status") for c in doc.get("cases", [])])
    text = json.dumps(failed)
    check(re.search(r"rank %d\b" % lost, text) is not None,
          "the failed case does not name rank %d: %s" % (lost, text[:600]))

for p in problems:
    print("FAIL:", p)
if not problems:
    print("ok: %s run, %d ranks on %s, %d TCP connections between distinct node addresses%s" % (
        launcher, nodes, ",".join(hosts), len(crossed),
        "" if lost is None else ", rank %d named as lost" % lost))
sys.exit(1 if problems else 0)

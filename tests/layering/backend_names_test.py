#!/usr/bin/env python3
"""No file under harness/ but the CLI's registry table names a backend (docs/ARCHITECTURE.md,
"The registry: a backend lives in its folder").

The backends' names are read from their own descriptors (`d.name = "tcp";` in
transports/*/*_descriptor.cpp and suites/*/*_descriptor.cpp), so a new backend is covered without
editing this test. A name in quotes in any other file under harness/ fails it, with file:line.

Two words are shared with things that are not backends, and those uses are not references to a
backend: "mpi" is also a launcher (harness/bootstrap defines the launchers; a line elsewhere that
says `launcher` is choosing one), and the envelope (harness/envelope) records the host's library
versions under the libraries' names (MPI, NCCL) whether or not a backend uses them.
Usage: backend_names_test.py SOURCE_DIR | --self-test SOURCE_DIR
"""
import pathlib
import re
import sys

ALLOWED = {"harness/cli/registry.cpp"}
NOT_ABOUT_BACKENDS = ("harness/bootstrap/", "harness/envelope/")


def backend_names(root: pathlib.Path) -> set:
    names = set()
    for pattern in ("transports/*/*_descriptor.cpp", "suites/*/*_descriptor.cpp"):
        for path in root.glob(pattern):
            names.update(re.findall(r'\bd\.name\s*=\s*"([^"]+)"', path.read_text()))
    return names


def self_test(source: pathlib.Path) -> int:
    """The check fails on a planted name and passes the registry table's own."""
    import shutil
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        tree = pathlib.Path(tmp)
        for pattern in ("transports/*/*_descriptor.cpp", "suites/*/*_descriptor.cpp"):
            for path in source.glob(pattern):
                dest = tree / path.relative_to(source)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, dest)
        (tree / "harness/cli").mkdir(parents=True)
        (tree / "harness/engine").mkdir(parents=True)
        (tree / "harness/cli/registry.cpp").write_text('auto t = "tcp";\n')
        (tree / "harness/engine/x.cpp").write_text('int a;\nbool s = suite == "stream";\n')
        run = subprocess.run([sys.executable, __file__, str(tree)], capture_output=True, text=True)
        want = 'harness/engine/x.cpp:2: names backend "stream"'
        if run.returncode != 1 or want not in run.stdout or "harness/cli/registry.cpp:1" in run.stdout:
            print(f"self-test: expected exit 1 naming only x.cpp:2, got {run.returncode}:")
            print(run.stdout)
            return 1
    print("self-test: a planted name fails the check, the registry table's do not")
    return 0


def main() -> int:
    if sys.argv[1] == "--self-test":
        return self_test(pathlib.Path(sys.argv[2]).resolve())
    root = pathlib.Path(sys.argv[1]).resolve()
    names = backend_names(root)
    if len(names) < 2:
        print(f"backend_names: found only {sorted(names)} in the descriptors; is {root} the tree?")
        return 1
    quoted = re.compile("|".join(f'"{re.escape(n)}"' for n in sorted(names)))
    failures = []
    for path in sorted((root / "harness").rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.suffix not in (".cpp", ".hpp", ".h") or rel in ALLOWED:
            continue
        if rel.startswith(NOT_ABOUT_BACKENDS):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "launcher" in line:
                continue
            match = quoted.search(line)
            if match:
                failures.append(f"{rel}:{number}: names backend {match.group(0)}; only "
                                "harness/cli/registry.cpp may (let the backend's descriptor say "
                                "what harness/ needs to know)")
    for f in failures:
        print(f)
    print(f"backend_names: {len(names)} backends ({', '.join(sorted(names))}), "
          f"{len(failures)} file line(s) under harness/ naming one")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Checks every first-party #include against the layering table in docs/ARCHITECTURE.md.

The table lives under the heading "## Layering": one row per folder pattern, the second column
the folders it may include, each in backticks. A pattern segment `*` matches one folder name
(`transports/*` covers every transport); a folder covers its subfolders; the most specific row
wins; a file may always include headers of its own folder; `*` alone means every folder.

Usage: ci/check-layering.py [--root DIR] [--table FILE]
Exit status: 0 clean, 1 violations found, 2 the table could not be read.
Standard library only (runs with Debian's python3).
"""

import argparse
import os
import re
import sys

# Top-level folders whose sources are checked; an include whose first segment is one of these
# is first-party.
CHECKED_TOPS = ("core", "harness", "transports", "suites", "results")
FIRST_PARTY_TOPS = CHECKED_TOPS + ("tests", "bench")
SOURCE_RE = re.compile(r"\.(c|cc|cpp|cxx|h|hh|hpp|hxx|ipp|inl|inc)(\.in)?$")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
SEGMENT_RE = re.compile(r"^([A-Za-z0-9_.-]+|\*)$")
TABLE_NAME = "docs/ARCHITECTURE.md layering table"


class TableError(Exception):
    pass


class Row:
    def __init__(self, pattern, allowed, lineno):
        self.pattern = pattern.split("/")
        self.allowed = [a.split("/") for a in allowed]
        self.lineno = lineno

    def match(self, segments):
        """The concrete folder this row matches for a file in folder `segments`, or None."""
        if len(segments) < len(self.pattern):
            return None
        for p, s in zip(self.pattern, segments):
            if p != "*" and p != s:
                return None
        return segments[: len(self.pattern)]

    def specificity(self):
        return (len(self.pattern), -self.pattern.count("*"))


def covers(prefix, segments):
    """Whether folder pattern `prefix` (segments, `*` = any one) contains path `segments`."""
    if prefix == ["*"]:
        return True
    if len(segments) < len(prefix):
        return False
    return all(p == "*" or p == s for p, s in zip(prefix, segments))


def parse_table(path):
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise TableError(f"{path}: cannot read: {e.strerror}") from e
    start = next((i for i, l in enumerate(lines) if l.strip() == "## Layering"), None)
    if start is None:
        raise TableError(f'{path}: no "## Layering" heading')
    rows, header, in_table = [], None, False
    for i in range(start + 1, len(lines)):
        line = lines[i].strip()
        if line.startswith("## "):
            break
        if not line.startswith("|"):
            if in_table:
                break
            continue
        in_table = True
        cells = [c.strip() for c in line.strip("|").split("|")]
        if header is None:
            header = [c.lower() for c in cells]
            if len(header) < 2 or header[0] != "folder" or header[1] != "may include":
                raise TableError(f"{path}:{i + 1}: the table's columns must be "
                                 "'folder | may include'")
            continue
        if all(set(c) <= set("-: ") for c in cells):
            continue  # the |---|---| line
        if len(cells) < 2:
            raise TableError(f"{path}:{i + 1}: a row needs two cells")
        folders = re.findall(r"`([^`]*)`", cells[0])
        if len(folders) != 1:
            raise TableError(f"{path}:{i + 1}: the folder cell must hold one `folder`")
        allowed = re.findall(r"`([^`]*)`", cells[1])
        for name in folders + allowed:
            if not all(SEGMENT_RE.match(s) for s in name.strip("/").split("/")):
                raise TableError(f"{path}:{i + 1}: bad folder name `{name}`")
        rows.append(Row(folders[0].strip("/"), [a.strip("/") for a in allowed], i + 1))
    if not rows:
        raise TableError(f'{path}: no table rows under "## Layering"')
    seen = {}
    for r in rows:
        key = "/".join(r.pattern)
        if key in seen:
            raise TableError(f"{path}:{r.lineno}: `{key}` has two rows "
                             f"(line {seen[key]} and {r.lineno})")
        seen[key] = r.lineno
    return rows


def row_for(rows, folder_segments):
    best, best_own = None, None
    for r in rows:
        own = r.match(folder_segments)
        if own is not None and (best is None or r.specificity() > best.specificity()):
            best, best_own = r, own
    return best, best_own


def resolve(root, source_rel, kind, name):
    """The repo-relative path of a first-party include, or None for a third-party/system one."""
    name = os.path.normpath(name).replace(os.sep, "/")
    if name.split("/")[0] in FIRST_PARTY_TOPS:
        return name
    if kind == '"':
        # An include relative to the including file (not the project's style, but still checked).
        local = os.path.normpath(os.path.join(os.path.dirname(source_rel), name))
        if os.path.isfile(os.path.join(root, local)):
            return local.replace(os.sep, "/")
    return None


def sources(root):
    for top in CHECKED_TOPS:
        base = os.path.join(root, top)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for fn in sorted(filenames):
                if SOURCE_RE.search(fn):
                    yield os.path.relpath(os.path.join(dirpath, fn), root).replace(os.sep, "/")


def check(root, rows):
    violations, files, includes = [], 0, 0
    for rel in sources(root):
        files += 1
        folder = rel.split("/")[:-1]
        row, own = row_for(rows, folder)
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE_RE.match(line)
                if not m:
                    continue
                header = resolve(root, rel, m.group(1), m.group(2))
                if header is None:
                    continue
                includes += 1
                hseg = header.split("/")
                if row is None:
                    violations.append(f"{rel}:{lineno}: {'/'.join(folder)} has no row in the "
                                      f"{TABLE_NAME}, so it may not include {header}")
                    continue
                if covers(own, hseg) or any(covers(a, hseg) for a in row.allowed):
                    continue
                violations.append(f"{rel}:{lineno}: {'/'.join(own)} may not include {header} "
                                  f"({TABLE_NAME})")
    return violations, files, includes


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--root", default=os.path.dirname(here), help="repository root")
    ap.add_argument("--table", help="markdown file with the table "
                    "(default ROOT/docs/ARCHITECTURE.md)")
    args = ap.parse_args(argv)
    root = os.path.abspath(args.root)
    table = args.table or os.path.join(root, "docs", "ARCHITECTURE.md")
    print(f"check-layering: {os.path.relpath(table, root) if table.startswith(root) else table} "
          f"against the #includes under {', '.join(t + '/' for t in CHECKED_TOPS)} of {root}")
    try:
        rows = parse_table(table)
    except TableError as e:
        print(f"check-layering: error: {e}", file=sys.stderr)
        return 2
    violations, files, includes = check(root, rows)
    for v in violations:
        print(v)
    print(f"check-layering: {len(rows)} rows, {files} files, {includes} first-party includes, "
          f"{len(violations)} violation(s)")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

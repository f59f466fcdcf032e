#!/usr/bin/env python3
"""Validate fabricbench run documents against the run-document JSON Schema.

Usage: ci/validate-run.py SCHEMA DOC...

SCHEMA is results/schema/run-v1.schema.json; each DOC is a run.json or a run directory (its
run.json is read). Prints one line per document ("ok PATH" or "FAIL PATH: ..." with up to five
errors, each with its JSON path). Exit status: 0 all valid, 1 any document invalid or
unreadable, 2 usage error or python3-jsonschema missing.
"""
import json
import os
import sys

MAX_ERRORS_SHOWN = 5


def json_path(error):
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        import jsonschema
    except ImportError:
        print("validate-run: python3 module 'jsonschema' is missing "
              "(apt-get install python3-jsonschema)", file=sys.stderr)
        return 2

    try:
        with open(argv[1], encoding="utf-8") as f:
            schema = json.load(f)
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
    except (OSError, ValueError, jsonschema.exceptions.SchemaError) as e:
        print(f"validate-run: bad schema {argv[1]}: {e}", file=sys.stderr)
        return 2
    validator = validator_class(schema)

    failed = 0
    for doc_path in argv[2:]:
        path = os.path.join(doc_path, "run.json") if os.path.isdir(doc_path) else doc_path
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            print(f"FAIL {path}: cannot read: {e}")
            failed += 1
            continue
        errors = sorted(validator.iter_errors(doc),
                        key=lambda e: [str(p) for p in e.absolute_path])
        if not errors:
            print(f"ok {path}")
            continue
        failed += 1
        shown = "; ".join(f"{json_path(e)}: {e.message}" for e in errors[:MAX_ERRORS_SHOWN])
        more = len(errors) - MAX_ERRORS_SHOWN
        suffix = f"; and {more} more" if more > 0 else ""
        print(f"FAIL {path}: {len(errors)} error(s): {shown}{suffix}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

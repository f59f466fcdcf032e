#!/usr/bin/env python3
"""Proves ci/check-layering.py can fail: temporary trees checked against the real table.

Each case copies the repository's docs/ARCHITECTURE.md into a temporary tree, plants sources and
runs the checker on it. Usage: check_layering_test.py SOURCE_DIR
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

SOURCE_DIR = None
TABLE = "(docs/ARCHITECTURE.md layering table)"


class CheckLayeringTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="fb-layering-")
        os.makedirs(os.path.join(self.root, "docs"))
        shutil.copy(os.path.join(SOURCE_DIR, "docs", "ARCHITECTURE.md"),
                    os.path.join(self.root, "docs", "ARCHITECTURE.md"))

    def tearDown(self):
        shutil.rmtree(self.root)

    def plant(self, rel, *includes):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write("// planted by check_layering_test.py\n")
            for inc in includes:
                f.write(f"{inc}\n")

    def run_check(self):
        script = os.path.join(SOURCE_DIR, "ci", "check-layering.py")
        p = subprocess.run([sys.executable, script, "--root", self.root],
                           capture_output=True, text=True, check=False)
        return p.returncode, p.stdout + p.stderr

    def test_clean_tree_passes(self):
        self.plant("core/stats/h.hpp", '#include "core/error.hpp"', "#include <vector>",
                   '#include "fmt/format.h"')
        self.plant("transports/api/t.hpp", '#include "core/clock.hpp"')
        self.plant("transports/tcp/t.cpp", '#include "transports/tcp/t.hpp"',
                   '#include "transports/api/t.hpp"', '#include "core/stats/h.hpp"')
        self.plant("suites/newsuite/w.cpp", '#include "suites/api/workload.hpp"',
                   '#include "transports/api/t.hpp"')
        self.plant("harness/engine/e.cpp", '#include "results/run_document.hpp"',
                   '#include "harness/faults/injector.hpp"', '#include "suites/api/workload.hpp"')
        self.plant("harness/cli/main.cpp", '#include "transports/tcp/t.hpp"',
                   '#include "harness/engine/e.hpp"', '#include "suites/pingpong/p.hpp"')
        rc, out = self.run_check()
        self.assertEqual(rc, 0, out)
        self.assertIn("0 violation(s)", out)

    def test_planted_bad_includes_fail(self):
        # A new transport folder is covered by the `transports/*` row: no row of its own needed.
        self.plant("transports/newfabric/n.cpp", '#include "transports/api/t.hpp"',
                   '#include "harness/bootstrap/bootstrap.hpp"')
        self.plant("core/x.hpp", "#include <string>", '#  include "harness/spec/experiment.hpp"')
        self.plant("suites/api/w.hpp", '#include "transports/tcp/tcp_transport.hpp"')
        self.plant("results/r.cpp", '#include "core/units.hpp"', '#include "core/stats/h.hpp"',
                   "#include <harness/engine/engine.hpp>")
        self.plant("harness/regime/s.cpp", '#include "results/run_document.hpp"')
        self.plant("transports/api/t.hpp", '#include "suites/api/w.hpp"')
        rc, out = self.run_check()
        self.assertEqual(rc, 1, out)
        expected = [
            "transports/newfabric/n.cpp:3: transports/newfabric may not include "
            f"harness/bootstrap/bootstrap.hpp {TABLE}",
            f"core/x.hpp:3: core may not include harness/spec/experiment.hpp {TABLE}",
            f"suites/api/w.hpp:2: suites/api may not include transports/tcp/tcp_transport.hpp {TABLE}",
            f"results/r.cpp:4: results may not include harness/engine/engine.hpp {TABLE}",
            f"harness/regime/s.cpp:2: harness/regime may not include results/run_document.hpp {TABLE}",
            f"transports/api/t.hpp:2: transports/api may not include suites/api/w.hpp {TABLE}",
        ]
        for line in expected:
            self.assertIn(line, out)
        self.assertIn(f"{len(expected)} violation(s)", out)
        # The allowed includes of the same files are not reported.
        self.assertNotIn("core/units.hpp", out)
        self.assertNotIn("may not include transports/api/t.hpp", out)

    def test_folder_without_row_fails(self):
        self.plant("harness/newthing/a.cpp", '#include "core/error.hpp"')
        rc, out = self.run_check()
        self.assertEqual(rc, 1, out)
        self.assertIn("harness/newthing/a.cpp:2: harness/newthing has no row", out)

    def test_missing_table_is_an_error(self):
        with open(os.path.join(self.root, "docs", "ARCHITECTURE.md"), "w", encoding="utf-8") as f:
            f.write("# Architecture\n\nno table here\n")
        rc, out = self.run_check()
        self.assertEqual(rc, 2, out)
        self.assertIn('no "## Layering" heading', out)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: check_layering_test.py SOURCE_DIR")
    SOURCE_DIR = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)

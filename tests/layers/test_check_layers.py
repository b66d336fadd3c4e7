# SPDX-License-Identifier: Apache-2.0
"""Self-test of check-layers.py: on small trees made for each case, it
passes a clean tree and fails, with the right message, on an upward
include, a sideways include between siblings, a cycle, an unknown folder,
an include that names no file, and a layer's own system header (the
database's, HTTP's) included by another; and it takes the layer order from the
meson.build files."""

import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

CHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     "check-layers.py")

# base <- protocol <- {attendance, recording} <- relay/ top; the layer
# order is only in these meson.build files, as in the real tree.
LAYERS = {
    "base": [],
    "protocol": ["base"],
    "attendance": ["protocol"],
    "recording": ["protocol"],
}

CLEAN = {
    "relay/base/kk-a.h": "#include <glib.h>\n",
    "relay/base/kk-a.c": '#include "kk-a.h"\n#include "kk-build-config.h"\n',
    "relay/base/kk-b.h": '#include "kk-a.h"\n',
    "relay/base/kk-b.c": '#include "kk-b.h"\n',
    "include/kringkast/kk-p.h": '#include <glib.h>\n',
    "relay/protocol/kk-p-private.h": '#include "kringkast/kk-p.h"\n',
    "relay/protocol/kk-p.c": '#include "kk-p-private.h"\n#include "kk-b.h"\n',
    "relay/attendance/kk-att.h": '#include "kringkast/kk-p.h"\n',
    "relay/attendance/kk-att.c": '#include "kk-att.h"\n',
    "relay/recording/kk-rec.h": '#include "kk-a.h"\n',
    "relay/recording/kk-rec.c": '#include "kk-rec.h"\n',
    "relay/kk-top.h": '#include "kk-att.h"\n#include "kk-rec.h"\n',
    "relay/main.c": '#include "kk-top.h"\n#include "kk-p-private.h"\n',
}


def meson_build(layer, deps):
    listed = ", ".join(["kk_%s_dep" % d for d in deps] + ["kk_external_deps"])
    return textwrap.dedent("""\
        # relay/{layer}
        kk_{layer}_lib = static_library('kk-{layer}',
          files('x.c'),
          include_directories: [include_directories('.')],
          dependencies: [{listed}])

        kk_{layer}_dep = declare_dependency(
          link_with: kk_{layer}_lib,
          dependencies: [{listed}])
        """).format(layer=layer, listed=listed)


class CheckLayersTest(unittest.TestCase):
    def make_tree(self, changes=None, layers=None):
        """A tree with CLEAN's files, @changes applied (None removes a
        file), and @layers' meson.build files."""
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        files = dict(CLEAN)
        for layer, deps in (layers or LAYERS).items():
            files["relay/%s/meson.build" % layer] = meson_build(layer, deps)
        files["relay/meson.build"] = "subdir('base')\n"
        for path, text in (changes or {}).items():
            if text is None:
                files.pop(path, None)
            else:
                files[path] = text
        for path, text in files.items():
            full = os.path.join(tmp.name, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w", encoding="utf-8") as f:
                f.write(text)
        return tmp.name

    def run_check(self, root):
        done = subprocess.run([sys.executable, CHECK, "--root", root],
                              capture_output=True, text=True, check=False)
        return done.returncode, done.stdout

    def assert_fails_with(self, root, *expected):
        code, out = self.run_check(root)
        self.assertEqual(code, 1, out)
        for text in expected:
            self.assertIn(text, out)

    def test_clean_tree_passes(self):
        code, out = self.run_check(self.make_tree())
        self.assertEqual(code, 0, out)
        self.assertIn("no upward or sideways include, no cycle", out)

    def test_upward_include_names_both_files(self):
        root = self.make_tree({
            "relay/base/kk-b.c": '#include "kk-b.h"\n#include "kk-rec.h"\n'})
        self.assert_fails_with(
            root, "relay/base/kk-b.c:2: includes relay/recording/kk-rec.h: "
            "goes up from layer base to layer recording")

    def test_upward_include_of_a_public_protocol_header(self):
        root = self.make_tree({"relay/base/kk-a.c":
                               '#include "kringkast/kk-p.h"\n'})
        self.assert_fails_with(
            root, "relay/base/kk-a.c:1: includes include/kringkast/kk-p.h: "
            "goes up from layer base to layer protocol")

    def test_include_of_the_top(self):
        root = self.make_tree({"relay/recording/kk-rec.c":
                               '#include "kk-top.h"\n'})
        self.assert_fails_with(
            root, "relay/recording/kk-rec.c:1: includes relay/kk-top.h: "
            "goes up from layer recording to the top (relay/)")

    def test_sideways_include_between_siblings(self):
        root = self.make_tree({"relay/recording/kk-rec.c":
                               '#include "kk-rec.h"\n#include "kk-att.h"\n'})
        self.assert_fails_with(
            root, "relay/recording/kk-rec.c:2: includes "
            "relay/attendance/kk-att.h: goes sideways from layer recording "
            "to its sibling layer attendance")

    def test_layer_order_comes_from_meson(self):
        # The same include passes once recording's library depends on
        # attendance: the build, not the check, says what is below.
        layers = dict(LAYERS, recording=["attendance"])
        root = self.make_tree({"relay/recording/kk-rec.c":
                               '#include "kk-rec.h"\n#include "kk-att.h"\n'},
                              layers)
        code, out = self.run_check(root)
        self.assertEqual(code, 0, out)

    def test_cycle_between_modules_is_a_chain(self):
        # kk-a.c includes kk-b.h, and kk-b.h includes kk-a.h: no file
        # reaches itself, but the modules kk-a and kk-b need each other.
        root = self.make_tree({"relay/base/kk-a.c":
                               '#include "kk-a.h"\n#include "kk-b.h"\n'})
        self.assert_fails_with(
            root, "include cycle: relay/base/kk-a -> relay/base/kk-b -> "
            "relay/base/kk-a",
            "relay/base/kk-a.c:2 includes relay/base/kk-b.h",
            "relay/base/kk-b.h:1 includes relay/base/kk-a.h")

    def test_longer_cycle_across_layers(self):
        root = self.make_tree({
            "relay/base/kk-a.h": '#include "kk-p-private.h"\n',
            "relay/protocol/kk-p.c": '#include "kk-b.h"\n'})
        self.assert_fails_with(
            root, "include cycle: relay/base/kk-a -> relay/protocol/kk-p -> "
            "relay/base/kk-b -> relay/base/kk-a")

    def test_database_header_outside_the_store(self):
        root = self.make_tree({"relay/attendance/kk-att.c":
                               '#include "kk-att.h"\n#include <sqlite3.h>\n'})
        self.assert_fails_with(
            root, "relay/attendance/kk-att.c:2: includes <sqlite3.h>: only "
            "layer store may")

    def test_http_header_below_the_web(self):
        root = self.make_tree({"relay/recording/kk-rec.h":
                               '#include <libsoup/soup.h>\n'})
        self.assert_fails_with(
            root, "relay/recording/kk-rec.h:1: includes <libsoup/soup.h>: "
            "only the top (relay/) and layer web may")
        code, out = self.run_check(self.make_tree(
            {"relay/kk-top.h": '#include <libsoup/soup.h>\n'}))
        self.assertEqual(code, 0, out)

    def test_unknown_folder(self):
        root = self.make_tree({"relay/extra/kk-x.c": '#include "kk-a.h"\n'})
        self.assert_fails_with(root, "relay/extra: not a layer the check "
                               "knows")

    def test_unresolved_include(self):
        root = self.make_tree({"relay/base/kk-a.c":
                               '#include "kk-nothing.h"\n'})
        self.assert_fails_with(
            root, 'relay/base/kk-a.c:1: #include "kk-nothing.h" names no '
            "file in relay/ or include/kringkast/")

    def test_dependency_on_no_layer(self):
        layers = dict(LAYERS, recording=["protocol", "json"])
        self.assert_fails_with(self.make_tree(layers=layers),
                               "relay/recording/meson.build: kk_json_dep is "
                               "the dependency of no layer")


if __name__ == "__main__":
    unittest.main()

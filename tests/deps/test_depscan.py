# SPDX-License-Identifier: Apache-2.0
"""Unit test of depscan.py: what it takes for an element, a program, a
module, and what it must leave alone."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import depscan  # noqa: E402


def names(needs, kind):
    return [n.name for n in needs if n.kind == kind]


class PipelineTest(unittest.TestCase):
    def elements(self, description):
        return [name for name, _ in depscan.pipeline_elements(description)]

    def test_first_word_of_each_part(self):
        self.assertEqual(
            self.elements('videotestsrc is-live=true ! video/x-raw,width=1 '
                          '! timeoverlay font-desc="Sans 28" ! appsink '
                          'name=video'),
            ["videotestsrc", "timeoverlay", "appsink"])

    def test_caps_properties_references_are_not_elements(self):
        self.assertEqual(
            self.elements("appsrc name=a ! rtpopusdepay ! mux. "
                          "camera. ! application/x-rtp,media=video "
                          "! fakesink mp4mux name=mux ! fdsink"),
            ["appsrc", "rtpopusdepay", "fakesink", "mp4mux", "fdsink"])

    def test_quoted_values_and_typed_caps_fields(self):
        self.assertEqual(
            self.elements('textoverlay text="a ! b" ! application/x-rtp,'
                          'packetization-mode=(string)1 ! queue'),
            ["textoverlay", "queue"])

    def test_bins_and_placeholders(self):
        self.assertEqual(
            self.elements("( videotestsrc ! x264enc ) %s name=v "
                          "rtspsrc location={uri}"),
            ["videotestsrc", "x264enc", "rtspsrc"])

    def test_pipeline_file_lines_and_comments(self):
        text = "# vp8enc in a comment\nvideotestsrc\n  ! vp8enc\n"
        self.assertEqual(depscan.scan_pipeline_file("p", text),
                         [depscan.Need("element", "videotestsrc", "p:2"),
                          depscan.Need("element", "vp8enc", "p:3")])

    def test_looks_like_pipeline(self):
        self.assertTrue(depscan.looks_like_pipeline("queue ! fakesink"))
        self.assertTrue(depscan.looks_like_pipeline(
            "webrtcbin name=pc bundle-policy=max-bundle"))
        self.assertFalse(depscan.looks_like_pipeline("!HHI"))
        self.assertFalse(depscan.looks_like_pipeline("webrtcbin pad %s"))
        self.assertFalse(depscan.looks_like_pipeline("=cmd|' /C calc'!A0"))


class CTest(unittest.TestCase):
    def test_make_parse_and_tables(self):
        text = (
            '/* gst_element_factory_make ("commented") */ c = \'"\';\n'
            'const char *muxer = webm ? "webmmux" : "matroskamux";\n'
            'mux = gst_element_factory_make (muxer, NULL);\n'
            'src = gst_element_factory_make ("filesrc", NULL);\n'
            'p = gst_parse_launch ("appsrc ! " "vp8enc", NULL);\n'
            'if (g_str_equal (name, "qtmux")) ext = "mp4"; /* "*/*" */\n'
            'accept = "*/*"; e = gst_element_factory_make ("queue", NULL);\n')
        needs = depscan.scan_c("r.c", text, {"qtmux", "queue"})
        self.assertEqual(
            sorted((n.name, n.where) for n in needs),
            [("appsrc", "r.c:5"), ("filesrc", "r.c:4"),
             ("matroskamux", "r.c:3"), ("qtmux", "r.c:6"), ("queue", "r.c:7"),
             ("vp8enc", "r.c:5"), ("webmmux", "r.c:3")])

    def test_printf_built_description(self):
        text = ('desc = g_strdup_printf (\n'
                '  "appsrc caps=application/x-dtls ! dtlssrtpdec name=dec "\n'
                '    "dec.rtp_src ! appsink name=out "\n'
                '    "filesrc location=\\"%s\\" ! parsebin", path);\n'
                'g_warning ("filesrc, parsebin or %s is missing", m);\n'
                'error ("duplicate a=mid:%s", mid);\n')
        self.assertEqual(
            [n.name for n in depscan.scan_c("t.c", text)],
            ["appsrc", "dtlssrtpdec", "appsink", "filesrc", "parsebin"])


class PythonTest(unittest.TestCase):
    SOURCE = '''
"""Docstring: prose with a ! in it is not a pipeline."""
import json, os.path
from urllib import request
import gi
gi.require_version("GstWebRTC", "1.0")
from gi.repository import GLib, GstWebRTC
PYTHON = "/usr/bin/python3"
VIDEO = ("videotestsrc is-live=true ! "
         "vp8enc deadline=1 ! ")
def run(enc):
    dec = Gst.ElementFactory.make("decodebin")
    pipe = Gst.parse_launch("appsrc name=a %s" % enc)
    argv = ["/usr/bin/whip-client", "-u", "x"]
    argv += ["-V", "audiotestsrc ! " + enc]
    subprocess.run(["unshare", "--net", "true"])
    shutil.which("node")
    args = ["--url", "x"]
    struct.pack("!HH", 1, 2)
'''

    def setUp(self):
        self.needs = depscan.scan_python("t.py", self.SOURCE)

    def test_elements(self):
        self.assertEqual(sorted(set(names(self.needs, "element"))),
                         ["appsrc", "audiotestsrc", "decodebin",
                          "videotestsrc", "vp8enc"])

    def test_programs(self):
        self.assertEqual(sorted(set(names(self.needs, "program"))),
                         ["/usr/bin/python3", "/usr/bin/whip-client", "node",
                          "unshare"])

    def test_modules_and_typelibs(self):
        self.assertEqual(sorted(set(names(self.needs, "module"))),
                         ["gi", "json", "os", "urllib"])
        self.assertEqual(sorted(names(self.needs, "typelib")),
                         ["GLib-*", "GstWebRTC-1.0"])


class ScriptTest(unittest.TestCase):
    def test_meson(self):
        text = ("glib_dep = dependency('glib-2.0', version: '>= 2.74')\n"
                "threads_dep = dependency('threads')\n"
                "python3 = find_program('/usr/bin/python3', required: false)\n"
                "sym = find_program('llvm-symbolizer-' + major)\n")
        self.assertEqual(depscan.scan_meson("m", text),
                         [depscan.Need("pkgconfig", "glib-2.0", "m:1"),
                          depscan.Need("program", "/usr/bin/python3", "m:3")])


    def test_shell(self):
        text = ('#!/bin/sh\nset -eu\nif unshare --net -- true; then\n'
                '  exec sh -c \'ip link set lo up\'\nfi\n'
                'echo "no; namespace here" >&2\n'
                'node=$(command -v node || command -v nodejs)\n'
                'CC=clang scripts/build build-ci\n'
                '/usr/bin/python3 - <<\'PY\'\nimport json\nPY\n')
        self.assertEqual(
            sorted(set(names(depscan.scan_shell("s", text), "program"))),
            ["/usr/bin/python3", "clang", "ip", "node", "nodejs", "sh",
             "unshare"])

    def test_js(self):
        text = ('const X = "/usr/bin/Xvfb";\n'
                'execFileSync("ip", ["link"]);\n'
                'path.join("/usr/lib", d, "MiniBrowser");\n'
                'log("chromium is missing");\n')
        self.assertEqual(
            sorted(names(depscan.scan_js("e.mjs", text, {"MiniBrowser"}),
                         "program")),
            ["/usr/bin/Xvfb", "MiniBrowser", "ip"])


if __name__ == "__main__":
    unittest.main()

# SPDX-License-Identifier: Apache-2.0
"""Fails when the relay or its tests rely on something the install
profiles do not install.

scripts/install-deps installs the RUN profile (scripts/debian-packages.txt:
build and run the relay; scripts/demo) or, with --tests, the RUN and
TESTS profiles (scripts/debian-packages-tests.txt; scripts/test), always
with --no-install-recommends. A package someone once installed by hand
makes a machine pass what a fresh one fails. This check finds what the
project relies on and follows each thing to the package that provides it:

  GStreamer elements  pipelines/*.pipeline, relay/ C code, the tests'
                      peers and tools (depscan.py); webrtcbin's own
                      transport and rtpbin elements, found by a real run
                      (webrtc-elements.py); what decodebin and parsebin
                      plug for the codecs we carry (AUTOPLUG below)
                      -> the plugin file (GStreamer registry)
  programs            tests, browser tests, shell scripts -> PATH
  Python modules      imports in tests/ -> importlib's origin file
  build dependencies  meson's dependency() -> the .pc file; the compiler
  GI namespaces       gi.require_version -> the typelib file
  the symbolizer      ASAN_SYMBOLIZER_PATH of the sanitizer run
  debug symbols       a library whose local function names
                      tests/lsan.supp uses -> its detached debug file

then the file to its Debian package (dpkg -S), and checks that package
is one apt installs for the profile: what apt-get would install for the
profile's lists on an empty system (a simulation with an empty dpkg
status: Depends and Pre-Depends, first alternatives, no Recommends), or
part of every Debian system (Essential, Priority required). What the
relay needs must be in RUN alone; what the tests need, in RUN + TESTS.

A package of the right name whose installed version is not Debian's
(from a third-party repository since removed) fails too: a fresh
machine would get another. Prints one line per missing thing and exits
1; exits 0 when all is covered. Run with Debian's /usr/bin/python3:
the tests use it.
"""

import argparse
import collections
import concurrent.futures
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import importlib.util

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

import depscan  # noqa: E402

RUN, TESTS = "RUN", "TESTS"
LISTS = {RUN: ["scripts/debian-packages.txt"],
         TESTS: ["scripts/debian-packages.txt",
                 "scripts/debian-packages-tests.txt"]}
ADD_TO = {RUN: "scripts/debian-packages.txt",
          TESTS: "scripts/debian-packages-tests.txt"}

# What decodebin and parsebin plug is chosen at run time from the input's
# caps: the highest-ranked factory of the right kind whose sink accepts
# all of them (so not the alpha-channel VP8 decoder for plain VP8),
# which is what this check looks up in the registry (so a higher-ranked
# decoder installed by hand is the one checked, as it is the one used).
# Only the caps are written here: they follow from the codecs the relay
# carries (VP8, H.264, Opus) and what an RTSP camera sends (AAC).
# (profile, file:what there uses it, kind, caps)
AUTOPLUG = [
    (RUN, "pipelines/rtsp.pipeline:decodebin", "decoder",
     "audio/mpeg,mpegversion=4,stream-format=raw"),
    (RUN, "relay/recording/kk-recorder.c:parsebin", "demuxer", "video/webm"),
    (RUN, "relay/recording/kk-recorder.c:parsebin", "demuxer", "video/x-matroska"),
    (RUN, "relay/recording/kk-recorder.c:parsebin", "demuxer", "video/quicktime"),
    (RUN, "relay/recording/kk-recorder.c:parsebin", "parser",
     "video/x-h264,stream-format=avc"),
    (TESTS, "tests/peers/whep_gst.py:decodebin", "depayloader",
     "application/x-rtp,media=video,encoding-name=VP8,clock-rate=90000,"
     "payload=96"),
    (TESTS, "tests/peers/whep_gst.py:decodebin", "depayloader",
     "application/x-rtp,media=video,encoding-name=H264,clock-rate=90000,"
     "payload=102"),
    (TESTS, "tests/peers/whep_gst.py:decodebin", "depayloader",
     "application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,"
     "payload=111"),
    (TESTS, "tests/peers/whep_gst.py:decodebin", "decoder", "video/x-vp8"),
    (TESTS, "tests/peers/whep_gst.py:decodebin", "decoder",
     "video/x-h264,stream-format=byte-stream,alignment=au,parsed=true"),
    (TESTS, "tests/peers/whep_gst.py:decodebin", "decoder",
     "audio/x-opus,channel-mapping-family=0"),
    (TESTS, "tests/integration/recording_media.py:decodebin", "demuxer",
     "video/webm"),
    (TESTS, "tests/integration/recording_media.py:decodebin", "demuxer",
     "video/quicktime"),
]
KINDS = {"decoder": Gst.ELEMENT_FACTORY_TYPE_DECODER,
         "demuxer": Gst.ELEMENT_FACTORY_TYPE_DEMUXER,
         "depayloader": Gst.ELEMENT_FACTORY_TYPE_DEPAYLOADER,
         "parser": Gst.ELEMENT_FACTORY_TYPE_PARSER}

# The dynamic loader, whose local symbols tests/lsan.supp names.
LD_SO = "/lib64/ld-linux-x86-64.so.2"
# Programs found by name rather than by path: where they live.
NAMED_PROGRAMS = {"MiniBrowser": "/usr/lib/*/webkit2gtk-4.1/MiniBrowser"}
# Programs a benchmark installs for itself when it runs.
SELF_INSTALLED = {"janus": "tests/bench/janus-vs-kringkast.py"}
# Shell scripts whose commands count, and the profile each serves
# (install-deps itself runs before anything is installed).
SHELL_SCRIPTS = {"scripts/build": RUN, "scripts/demo": RUN,
                 "scripts/test": TESTS,
                 "tests/integration/netns-run": TESTS,
                 "tests/e2e/run-e2e": TESTS}


class Thing:
    """One thing relied on: what it is, who needs it, under which profile."""

    def __init__(self, kind, name, profile, where):
        self.kind, self.name, self.profile = kind, name, profile
        self.where = [where]
        self.path = None     # the file that provides it
        self.problem = None  # why it has no file


def find_needs(root):
    needs = []  # (profile, Need)

    def read(path):
        with open(os.path.join(root, path), encoding="utf-8") as f:
            return f.read()

    def rel(pattern):
        # Not what npm or a build put in the tree.
        paths = (os.path.relpath(p, root) for p in
                 glob.glob(os.path.join(root, pattern), recursive=True))
        return sorted(p for p in paths if "node_modules" not in p.split("/")
                      and not p.startswith("build"))

    for path in rel("pipelines/*.pipeline"):
        needs += [(RUN, n) for n in depscan.scan_pipeline_file(path,
                                                               read(path))]
    # Factories of plugins, not libgstreamer's own bin and pipeline: a
    # literal "bin" in C is a file extension, not an element.
    factory_names = {f.get_name() for f in
                     Gst.Registry.get().get_feature_list(Gst.ElementFactory)
                     if f.get_plugin() and f.get_plugin().get_filename()}
    for path in rel("relay/**/*.c"):
        needs += [(RUN, n) for n in depscan.scan_c(path, read(path),
                                                   factory_names)]
    for path in rel("tests/**/*.c"):
        needs += [(TESTS, n) for n in depscan.scan_c(path, read(path),
                                                     factory_names)]
    own_modules = {os.path.splitext(os.path.basename(p))[0]
                   for p in rel("tests/**/*.py")}
    for path in rel("tests/**/*.py"):
        if path == "tests/deps/test_depscan.py":
            continue  # its examples are not things the tests run
        for n in depscan.scan_python(path, read(path)):
            if not (n.kind == "module" and n.name in own_modules):
                needs.append((TESTS, n))
    for path in rel("tests/e2e/*.mjs"):
        needs += [(TESTS, n) for n in
                  depscan.scan_js(path, read(path), NAMED_PROGRAMS)]
    # The build: scripts/demo builds too, so all but the tests' own
    # meson files are RUN; meson compiles with cc unless told otherwise.
    needs.append((RUN, depscan.Need("program", "cc", "meson.build")))
    for path in rel("**/meson.build"):
        profile = TESTS if path.startswith("tests/") else RUN
        for n in depscan.scan_meson(path, read(path)):
            # A program of the source tree (netns-run) is no package's.
            if not os.path.exists(os.path.join(root, os.path.dirname(path),
                                               n.name)):
                needs.append((profile, n))
    for path, profile in SHELL_SCRIPTS.items():
        needs += [(profile, n) for n in depscan.scan_shell(path, read(path))
                  if not n.name.startswith(("scripts/", "build"))]
    return needs


def webrtc_needs(root):
    """webrtcbin's inner elements, from a real run (webrtc-elements.py):
    the receiving side is the relay's ingest, the sending side the tests'
    publishers. A failed run is a failure of its own."""
    probe = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "webrtc-elements.py")
    try:
        r = subprocess.run([sys.executable, probe], capture_output=True,
                           text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return None, "no answer in 120 s"
    if r.returncode != 0:
        lines = r.stderr.strip().splitlines()
        return None, lines[-1] if lines else "exit %d" % r.returncode
    found = json.loads(r.stdout)
    run = "inside webrtcbin, by a run of %s" % os.path.relpath(probe, root)
    return ([(RUN, depscan.Need("element", n, "relay/media/kk-ingest-webrtc.c: "
                                + run)) for n in found["receiver"]]
            + [(TESTS, depscan.Need("element", n, "tests/peers/whip_gst.py: "
                                    + run)) for n in found["sender"]]), None


def autoplug_needs():
    """The factory decodebin or parsebin would plug for each AUTOPLUG row."""
    needs = []
    for profile, where, kind, caps_text in AUTOPLUG:
        caps = Gst.Caps.from_string(caps_text)
        candidates = Gst.ElementFactory.list_filter(
            Gst.ElementFactory.list_get_elements(KINDS[kind],
                                                 Gst.Rank.MARGINAL),
            caps, Gst.PadDirection.SINK, True)
        candidates.sort(key=lambda f: f.get_rank(), reverse=True)
        label = "%s for %s" % (kind, caps_text)
        if candidates:
            label = candidates[0].get_name()
        needs.append((profile, depscan.Need(
            "element" if candidates else "autoplug", label, where)))
    return needs


def libgstreamer_path():
    """Elements registered by libgstreamer itself (bin, pipeline) have no
    plugin: their file is the library this process has loaded."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            if "/libgstreamer-1.0.so" in line:
                return line.split()[-1]
    return None


def typelib_dirs():
    dirs = os.environ.get("GI_TYPELIB_PATH", "").split(":")
    dirs += glob.glob("/usr/lib/*/girepository-1.0")
    dirs.append("/usr/lib/girepository-1.0")
    return [d for d in dirs if d]


def locate(thing):
    """Sets thing.path, or thing.problem when nothing provides it."""
    kind, name = thing.kind, thing.name
    if kind == "element":
        factory = Gst.ElementFactory.find(name)
        if factory is None:
            thing.problem = "no installed GStreamer plugin provides it"
            return
        plugin = factory.get_plugin()
        thing.path = ((plugin and plugin.get_filename())
                      or libgstreamer_path())
    elif kind == "autoplug":
        thing.problem = "no installed element takes these caps"
    elif kind == "program":
        if name in NAMED_PROGRAMS:
            hits = sorted(glob.glob(NAMED_PROGRAMS[name]))
            thing.path = hits[0] if hits else None
        elif name.startswith("/"):
            thing.path = name if os.access(name, os.X_OK) else None
        else:
            thing.path = shutil.which(name)
        if thing.path is None:
            thing.problem = "no such program here"
    elif kind == "module":
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            thing.problem = "Python cannot import it"
        elif spec.origin in (None, "built-in", "frozen"):
            thing.path = sys.executable  # part of the interpreter
        else:
            thing.path = spec.origin
    elif kind == "typelib":
        for d in typelib_dirs():
            hits = sorted(glob.glob(os.path.join(d, name + ".typelib")))
            if hits:
                thing.path = hits[-1]
                break
        else:
            thing.problem = "no typelib %s.typelib" % name
    elif kind == "pkgconfig":
        r = subprocess.run(["pkg-config", "--path", name],
                           capture_output=True, text=True)
        thing.path = r.stdout.strip() or None
        if thing.path is None:
            thing.problem = "pkg-config does not know it"
    elif kind == "debug-symbols":
        bid = build_id(os.path.realpath(name))
        debug = bid and "/usr/lib/debug/.build-id/%s/%s.debug" % (bid[:2],
                                                                  bid[2:])
        if debug and os.path.exists(debug):
            thing.path = debug
        else:
            thing.problem = ("no detached debug file for %s (build-id %s)"
                             % (name, bid))
    elif kind == "symbolizer":
        if name and os.access(name, os.X_OK):
            thing.path = name
        else:
            thing.problem = "meson found no llvm-symbolizer"


def build_id(path):
    """The GNU build-id of an ELF file (hex), or None: its
    .note.gnu.build-id section, read from the section headers."""
    import struct
    with open(path, "rb") as f:
        elf = f.read()
    if elf[:4] != b"\x7fELF" or elf[4] != 2:  # 64-bit only
        return None
    end = "<" if elf[5] == 1 else ">"
    shoff, = struct.unpack_from(end + "Q", elf, 0x28)
    shentsize, shnum = struct.unpack_from(end + "HH", elf, 0x3a)
    for i in range(shnum):
        sh_type, = struct.unpack_from(end + "I", elf, shoff + i * shentsize + 4)
        offset, size = struct.unpack_from(end + "QQ", elf,
                                          shoff + i * shentsize + 0x18)
        pos = offset
        while sh_type == 7 and pos + 12 <= offset + size:  # SHT_NOTE
            namesz, descsz, ntype = struct.unpack_from(end + "III", elf, pos)
            name_at = pos + 12
            desc_at = name_at + (namesz + 3) // 4 * 4
            if ntype == 3 and elf[name_at:name_at + namesz] == b"GNU\0":
                return elf[desc_at:desc_at + descsz].hex()
            pos = desc_at + (descsz + 3) // 4 * 4
    return None


def variants(path):
    """The names dpkg may know a file by: as given, resolved, and on the
    other side of the /usr merge (/lib -> /usr/lib)."""
    out = []
    for p in (path, os.path.realpath(path)):
        out.append(p)
        for top in ("/lib", "/bin", "/sbin", "/lib64"):
            if p.startswith(top + "/"):
                out.append("/usr" + p)
            elif p.startswith("/usr" + top + "/"):
                out.append(p[len("/usr"):])
    return list(dict.fromkeys(out))


def owners(paths):
    """{path: package} for every path dpkg knows an owner of."""
    queries = sorted({v for p in paths for v in variants(p)})
    r = subprocess.run(["dpkg-query", "-S"] + queries, capture_output=True,
                       text=True)
    known = {}
    for line in r.stdout.splitlines():
        if line.startswith("diversion ") or ": " not in line:
            continue
        packages, path = line.rsplit(": ", 1)
        known[path] = packages.split(",")[0].strip().split(":")[0]
    return {p: next((known[v] for v in variants(p) if v in known), None)
            for p in paths}


def newer(a, b):
    return subprocess.run(["dpkg", "--compare-versions", a, "gt", b]
                          ).returncode == 0


def foreign_versions(packages):
    """{package: version} for those whose installed version is not
    Debian's: no apt source knows the package, or it is newer than every
    version they offer (a third-party repository since removed, a .deb
    installed by hand), so a fresh machine gets something else. A Debian
    version merely older than the archive's (not upgraded yet) is fine."""
    r = subprocess.run(["apt-cache", "policy"] + sorted(packages),
                       capture_output=True, text=True,
                       env=dict(os.environ, LC_ALL="C"))
    foreign = {}
    package = installed_version = version = None
    sources = {}
    for line in r.stdout.splitlines() + [""]:
        header = re.match(r"^(\S+?)(?::\w+)?:$", line)
        if header or not line:
            archive = [v for v, where in sources.items()
                       if where - {"/var/lib/dpkg/status"}]
            if (package and installed_version
                    and installed_version not in archive
                    and all(newer(installed_version, v) for v in archive)):
                foreign[package] = installed_version
            package = header.group(1) if header else None
            installed_version = version = None
            sources = {}
            continue
        m = re.match(r"^\s+Installed: (\S+)$", line)
        if m and m.group(1) != "(none)":
            installed_version = m.group(1)
        m = re.match(r"^ (?:\*\*\*|   ) (\S+) -?\d+$", line)
        if m:
            version = m.group(1)
            sources[version] = set()
        m = re.match(r"^\s{8}-?\d+ (\S+)", line)
        if m and version:
            sources[version].add(m.group(1))
    return foreign


def read_list(root, path):
    with open(os.path.join(root, path), encoding="utf-8") as f:
        return [w for line in f for w in line.split("#", 1)[0].split()]


def simulate(root, profile):
    """The packages apt-get would install for the profile on an empty
    system, or an error text."""
    packages = [p for path in LISTS[profile] for p in read_list(root, path)]
    r = subprocess.run(
        ["apt-get", "-s", "-q", "-o", "Dir::State::status=/dev/null",
         "-o", "Debug::NoLocking=1", "install", "--no-install-recommends"]
        + packages, capture_output=True, text=True,
        env=dict(os.environ, LC_ALL="C"))
    if r.returncode != 0:
        return None, " ".join(r.stderr.split())
    return {line.split()[1] for line in r.stdout.splitlines()
            if line.startswith("Inst ")}, None


def base_system():
    """Packages every Debian system has (Essential, Priority required, and
    apt, which even a minimal debootstrap installs: it is how the others
    get there)."""
    r = subprocess.run(["dpkg-query", "-W", "-f",
                        "${Package}\t${Essential}\t${Priority}\n"],
                       capture_output=True, text=True, check=True)
    return {"apt"} | {
        f[0] for f in (line.split("\t") for line in r.stdout.splitlines())
        if len(f) == 3 and (f[1] == "yes" or f[2] == "required")}


def describe(thing):
    where = thing.where[0]
    if len(thing.where) > 1:
        where += " (and %d more)" % (len(thing.where) - 1)
    label = {"element": "GStreamer element", "autoplug": "auto-plugged",
             "program": "program", "module": "Python module",
             "typelib": "GI typelib", "symbolizer": "symbolizer",
             "debug-symbols": "debug symbols",
             "pkgconfig": "pkg-config module"}[thing.kind]
    return "%s %s (%s), needed by %s" % (thing.profile, thing.name, label,
                                         where)


def gather(needs):
    """One Thing per (profile, kind, name), with every place that needs
    it. What the relay needs the tests need too: that is checked once,
    as RUN."""
    things = {}
    for profile, need in needs:
        if need.kind == "program" and need.name in SELF_INSTALLED:
            continue
        key = (profile, need.kind, need.name)
        if key in things:
            things[key].where.append(need.where)
        else:
            things[key] = Thing(need.kind, need.name, profile, need.where)
    return [t for k, t in things.items()
            if not (k[0] == TESTS and (RUN,) + k[1:] in things)]


def judge(thing, package, foreign, closure, base):
    """The failure line for a thing, or None when its profile covers it.
    package is the owner of thing.path; closure is None when apt could
    not resolve the profile (reported once, on its own)."""
    add = ADD_TO[thing.profile]
    if thing.problem:
        return ("%s: not installed (%s); install the package that provides "
                "it and add it to %s" % (describe(thing), thing.problem, add))
    if package is None:
        return ("%s: %s is not from any Debian package (installed by "
                "hand?); use Debian's and add its package to %s"
                % (describe(thing), thing.path, add))
    if package in foreign:
        return ("%s: %s is in package %s %s, which is not Debian's "
                "(installed by hand?): a fresh machine gets another; install "
                "Debian's (apt-cache policy %s)"
                % (describe(thing), thing.path, package, foreign[package],
                   package))
    if closure is None or package in closure or package in base:
        return None
    return ("%s: %s is in package %s, installed here but not in the %s "
            "profile: add %s to %s" % (describe(thing), thing.path, package,
                                       thing.profile, package, add))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True, help="the source tree")
    ap.add_argument("--symbolizer",
                    help="the symbolizer the sanitizer run is given "
                    "('' when meson found none; leave out without "
                    "sanitizers)")
    ap.add_argument("--verbose", action="store_true",
                    help="list every thing with its file and package")
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    Gst.init(None)

    with concurrent.futures.ThreadPoolExecutor() as pool:
        closures = {p: pool.submit(simulate, root, p) for p in LISTS}
        webrtc = pool.submit(webrtc_needs, root)
        needs = find_needs(root) + autoplug_needs()
        if args.symbolizer is not None:
            needs.append((TESTS, depscan.Need(
                "symbolizer", args.symbolizer or "llvm-symbolizer",
                "tests/lsan.supp (its function names need a symbolizer)")))
            # ld.so's _dl_init is a local symbol: only its detached debug
            # file names it, and without it GLib's allocations under a
            # library constructor are reported as leaks.
            needs.append((TESTS, depscan.Need(
                "debug-symbols", LD_SO, "tests/lsan.supp: leak:_dl_init")))
        found, probe_error = webrtc.result()
        closures = {p: f.result() for p, f in closures.items()}

    failures = []
    if probe_error:
        failures.append("webrtcbin's own elements unknown: "
                        "tests/deps/webrtc-elements.py failed: %s"
                        % probe_error)
    for profile, (closure, error) in closures.items():
        if error:
            failures.append("apt cannot install the %s profile (%s): %s"
                            % (profile, ", ".join(LISTS[profile]), error))
    things = gather(needs + (found or []))
    for thing in things:
        locate(thing)
    package_of = owners([t.path for t in things if t.path])
    foreign = foreign_versions({p for p in package_of.values() if p})
    base = base_system()
    for thing in things:
        package = package_of.get(thing.path)
        if args.verbose:
            print("%-5s %-10s %-24s %s (%s) <- %s" % (
                thing.profile, thing.kind, thing.name, thing.path, package,
                thing.where[0]))
        failure = judge(thing, package, foreign, closures[thing.profile][0],
                        base)
        if failure:
            failures.append(failure)

    for line in sorted(failures):
        print("MISSING " + line)
    counts = collections.Counter(thing.kind for thing in things)
    summary = ", ".join("%d %s" % (n, k) for k, n in sorted(counts.items()))
    if failures:
        print("deps: %d missing from the install profiles (checked: %s)"
              % (len(failures), summary))
        return 1
    print("deps: every thing relied on (%s) comes from a package of its "
          "profile" % summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())

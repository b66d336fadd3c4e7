#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The layering check: relay/ keeps the layers its folders show.

Every .c and .h under relay/ (and include/kringkast/, the protocol
layer's public headers) is read for its `#include "..."` lines; each is
resolved to a file and judged. The check fails, naming both files, on

  - an include that goes up a layer, or sideways between sibling layers
    (attendance and recording may not include each other);
  - a cycle between modules, reported as a chain a -> b -> ... -> a. A
    module is a .c file with its header and its -private.h: kk-config.c
    including kk-room.h while kk-room.h includes kk-config.h is a cycle
    even though no single file reaches itself;
  - a folder in relay/ that is no known layer;
  - a system header that belongs to one layer, included elsewhere: the
    database library only in relay/store (everything else goes through
    kk-db.h), libsoup and libqrencode only in relay/web (and the top,
    which wires the server).

The layer order is not written here: it is read from relay/*/meson.build,
where each folder builds kk_<layer>_lib with `dependencies: [kk_x_dep,
...]`, so the build and this check cannot disagree. Files directly in
relay/ (kk-relay.c, main.c) are the top and may include everything.
Generated headers and other system headers (<...>) are not judged.

Usage: check-layers.py [--root SOURCE_ROOT]
Exit status 0 when the tree is clean, 1 with one line per fault.
"""

import argparse
import os
import re
import sys

# Headers the build generates (configure_file, gnome.compile_resources):
# not in the source tree, owned by the layer whose meson.build makes them.
GENERATED = {"kk-build-config.h", "kk-web-resources.h"}

# Folders outside relay/ that belong to a layer.
EXTRA_DIRS = {os.path.join("include", "kringkast"): "protocol"}

TOP = "top"

# System headers (a name, or a folder ending in /) that only some layers
# may include, and why.
OWNED_SYSTEM_HEADERS = [
    ("sqlite3.h", {"store"}, "the database stays behind relay/store's kk-db.h"),
    ("libsoup/", {"web", TOP}, "HTTP is relay/web's"),
    ("qrencode.h", {"web"}, "QR codes are drawn for relay/web's pages"),
]

INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
SYSTEM_INCLUDE_RE = re.compile(r'^\s*#\s*include\s+<([^>]+)>')
LIB_RE = re.compile(r"\bkk_(\w+)_lib\s*=\s*static_library\s*\(")
DEP_RE = re.compile(r"\bkk_(\w+)_dep\b")


class Faults:
    def __init__(self):
        self.lines = []

    def add(self, text):
        self.lines.append(text)


def call_arguments(text, start):
    """The text of the call whose '(' is at text[start - 1], up to its
    matching ')'."""
    depth = 1
    i = start
    while i < len(text) and depth > 0:
        if text[i] in "([":
            depth += 1
        elif text[i] in ")]":
            depth -= 1
        elif text[i] == "'":
            i = text.index("'", i + 1)
        elif text[i] == "#":
            i = text.find("\n", i)
            if i < 0:
                break
        i += 1
    return text[start:i - 1]


def dependencies_of(arguments):
    """The kk_<layer>_dep names in the `dependencies: [...]` argument."""
    match = re.search(r"\bdependencies\s*:\s*\[", arguments)
    if match is None:
        return []
    listed = call_arguments(arguments, match.end())
    return DEP_RE.findall(listed)


def read_layers(root, faults):
    """Returns ({folder: layer}, {layer: set of layers it uses directly})
    from relay/*/meson.build, and the folders that are no layer."""
    relay = os.path.join(root, "relay")
    folders = {}
    uses = {}
    where = {}
    for name in sorted(os.listdir(relay)):
        path = os.path.join(relay, name)
        if not os.path.isdir(path):
            continue
        build = os.path.join(path, "meson.build")
        text = ""
        if os.path.exists(build):
            with open(build, encoding="utf-8") as f:
                text = f.read()
        libs = list(LIB_RE.finditer(text))
        if len(libs) != 1:
            faults.add("relay/%s: not a layer the check knows: its "
                       "meson.build must build exactly one kk_<layer>_lib "
                       "static library (found %d)" % (name, len(libs)))
            continue
        layer = libs[0].group(1)
        folders[name] = layer
        where[layer] = "relay/%s/meson.build" % name
        uses[layer] = set(dependencies_of(
            call_arguments(text, libs[0].end())))
    for extra, layer in EXTRA_DIRS.items():
        if layer not in uses:
            faults.add("%s: belongs to layer %s, which relay/ does not "
                       "build" % (extra, layer))
    for layer, used in uses.items():
        for dep in sorted(used - set(uses)):
            faults.add("%s: kk_%s_dep is the dependency of no layer in "
                       "relay/" % (where[layer], dep))
    for layer in uses:
        uses[layer] &= set(uses)
    return folders, uses


def below(uses):
    """{layer: every layer under it}, the transitive closure of uses."""
    result = {}
    for layer in uses:
        seen = set()
        todo = list(uses[layer])
        while todo:
            dep = todo.pop()
            if dep not in seen:
                seen.add(dep)
                todo.extend(uses.get(dep, ()))
        result[layer] = seen
    return result


def source_files(root, folders, faults):
    """{relative path: layer} for every .c and .h that is judged."""
    files = {}
    relay = os.path.join(root, "relay")
    for name in sorted(os.listdir(relay)):
        path = os.path.join(relay, name)
        if os.path.isfile(path):
            if name.endswith((".c", ".h")):
                files[os.path.join("relay", name)] = TOP
            continue
        if name not in folders:
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            for file in sorted(filenames):
                if file.endswith((".c", ".h")):
                    rel = os.path.relpath(os.path.join(dirpath, file), root)
                    files[rel] = folders[name]
    for extra, layer in EXTRA_DIRS.items():
        path = os.path.join(root, extra)
        if not os.path.isdir(path):
            continue
        for file in sorted(os.listdir(path)):
            if file.endswith((".c", ".h")):
                files[os.path.join(extra, file)] = layer
    return files


def resolve(name, including, files, by_name):
    """The judged file that `#include "name"` in @including names: beside
    the including file first (as the compiler looks), then under include/
    (for "kringkast/..."), then in any layer folder. Returns (path, None),
    (None, None) for a generated header, or (None, reason)."""
    beside = os.path.normpath(os.path.join(os.path.dirname(including), name))
    if beside in files:
        return beside, None
    under_include = os.path.normpath(os.path.join("include", name))
    if under_include in files:
        return under_include, None
    found = by_name.get(name, [])
    if len(found) == 1:
        return found[0], None
    if len(found) > 1:
        return None, "is ambiguous: %s" % ", ".join(found)
    if os.path.basename(name) in GENERATED:
        return None, None
    return None, "names no file in relay/ or include/kringkast/"


def module_of(path):
    """kk-x.c, kk-x.h and kk-x-private.h are the one module kk-x."""
    stem = os.path.splitext(path)[0]
    if path.endswith("-private.h"):
        stem = stem[:-len("-private")]
    return stem


def find_cycles(edges):
    """Strongly connected components of more than one module (Tarjan),
    each as a sorted list."""
    index = {}
    low = {}
    stack = []
    on_stack = set()
    groups = []
    counter = [0]

    def visit(node):
        # Iterative, so that a long chain cannot exhaust Python's stack.
        work = [(node, iter(sorted(edges.get(node, ()))))]
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        while work:
            current, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[current] = min(low[current], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[current])
            if low[current] == index[current]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == current:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(groups)


def shortest_cycle(start, group, edges):
    """start -> ... -> start inside @group, by breadth-first search."""
    members = set(group)
    previous = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(edges.get(node, ())):
            if child not in members:
                continue
            if child == start:
                chain = [node]
                while chain[-1] != start:
                    chain.append(previous[chain[-1]])
                return [start] + list(reversed(chain[:-1])) + [start]
            if child not in previous:
                previous[child] = node
                queue.append(child)
    return [start, start]


def check_system_header(path, number, name, layer, faults):
    for owned, layers, why in OWNED_SYSTEM_HEADERS:
        if (name == owned or (owned.endswith("/")
                              and name.startswith(owned))) \
                and layer not in layers:
            faults.add("%s:%d: includes <%s>: only %s may (%s)" % (
                path, number, name, " and ".join(
                    "the top (relay/)" if l == TOP else "layer " + l
                    for l in sorted(layers)), why))


def check(root):
    faults = Faults()
    folders, uses = read_layers(root, faults)
    under = below(uses)
    for layer in sorted(uses):
        if layer in under[layer]:
            faults.add("relay/: layer %s depends on itself through the "
                       "dependencies of relay/*/meson.build" % layer)
    files = source_files(root, folders, faults)
    by_name = {}
    for path in files:
        if path.startswith("relay" + os.sep):
            by_name.setdefault(os.path.basename(path), []).append(path)

    edges = {}
    how = {}
    count = 0
    for path in sorted(files):
        with open(os.path.join(root, path), encoding="utf-8",
                  errors="replace") as f:
            lines = f.read().split("\n")
        for number, line in enumerate(lines, 1):
            system = SYSTEM_INCLUDE_RE.match(line)
            if system is not None:
                check_system_header(path, number, system.group(1),
                                    files[path], faults)
                continue
            match = INCLUDE_RE.match(line)
            if match is None:
                continue
            count += 1
            name = match.group(1)
            target, reason = resolve(name, path, files, by_name)
            if target is None:
                if reason is not None:
                    faults.add('%s:%d: #include "%s" %s'
                               % (path, number, name, reason))
                continue
            source_layer, target_layer = files[path], files[target]
            if (source_layer != TOP and source_layer != target_layer
                    and target_layer not in under[source_layer]):
                if target_layer == TOP:
                    what = ("goes up from layer %s to the top (relay/)"
                            % source_layer)
                elif source_layer in under[target_layer]:
                    what = ("goes up from layer %s to layer %s"
                            % (source_layer, target_layer))
                else:
                    what = ("goes sideways from layer %s to its sibling "
                            "layer %s" % (source_layer, target_layer))
                faults.add("%s:%d: includes %s: %s"
                           % (path, number, target, what))
            a, b = module_of(path), module_of(target)
            if a != b:
                edges.setdefault(a, set()).add(b)
                how.setdefault((a, b), "%s:%d includes %s"
                               % (path, number, target))

    for group in find_cycles(edges):
        chain = shortest_cycle(group[0], group, edges)
        text = "include cycle: %s" % " -> ".join(chain)
        steps = ["%s" % how[(chain[i], chain[i + 1])]
                 for i in range(len(chain) - 1)]
        text += " (" + "; ".join(steps) + ")"
        others = [m for m in group if m not in chain]
        if others:
            text += "; the same cycle group also holds %s" % ", ".join(others)
        faults.add(text)
    return faults.lines, len(files), count


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", ".."),
        help="the source tree (default: this script's)")
    args = parser.parse_args()
    faults, files, includes = check(os.path.abspath(args.root))
    for line in faults:
        print(line)
    if faults:
        print("layers: %d fault(s) in %d files" % (len(faults), files))
        return 1
    print("layers: %d files, %d includes: no upward or sideways include, "
          "no cycle" % (files, includes))
    return 0


if __name__ == "__main__":
    sys.exit(main())

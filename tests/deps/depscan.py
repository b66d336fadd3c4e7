# SPDX-License-Identifier: Apache-2.0
"""Finds what the project's files rely on, without running anything.

The half of the dependency check that reads source: GStreamer element
names in pipeline descriptions, C and Python; programs the tests and
scripts start; Python modules imported; GObject-introspection namespaces
required. Each finding is a Need: what kind of thing, its name, and the
file:line that needs it. check-deps.py then resolves each one to a file,
the file to a Debian package, and the package to an install profile.

Pure functions over text, so that tests/deps/test_depscan.py can check
the parsing on small examples.
"""

import ast
import collections
import re

Need = collections.namedtuple("Need", "kind name where")

ELEMENT_WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def tokenize(description):
    """Splits a gst-launch description into (token, offset) pairs.

    '!' is a token of its own; quotes keep spaces and '!' inside a
    property value (font-desc="Sans 28") in one token. Parentheses stay in
    their token: they open and close bins ("( videotestsrc ... )") but
    also give a caps field its type (packetization-mode=(string)1)."""
    tokens = []
    start = None
    quote = None
    for i, ch in enumerate(description):
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
            if start is None:
                start = i
        elif ch.isspace() or ch == "!":
            if start is not None:
                tokens.append((description[start:i], start))
                start = None
            if ch == "!":
                tokens.append((ch, i))
        elif start is None:
            start = i
    if start is not None:
        tokens.append((description[start:], start))
    return tokens


def is_element_word(token):
    """True for a token that names an element factory.

    Not elements: links ('!'), properties (key=value),
    caps filters (video/x-raw,width=...: a media type has a '/'),
    references to named elements (mux., camera.src_0), and the
    placeholders of code that builds descriptions (%s, {uri}, $x)."""
    return ELEMENT_WORD.match(element_word(token)) is not None


def element_word(token):
    """The token without the bin parentheses around it."""
    return token.strip("()")


def pipeline_elements(description):
    """[(element name, offset)] of a gst-launch description.

    Each '!'-separated part starts with an element, a caps filter or a
    reference; a part may also hold several chains ("decodebin name=dec
    videoconvert ! ..."), so every bare word that is not a property is an
    element."""
    return [(element_word(tok), off) for tok, off in tokenize(description)
            if is_element_word(tok)]


def looks_like_pipeline(text, lone_element=True):
    """True when a string from code is (a piece of) a pipeline description:
    it links with a free-standing '!' (not struct's "!HH"), or, with
    lone_element, it is one element with its properties ("webrtcbin
    name=pc bundle-policy=..."). C leaves lone_element out: its messages
    read the same way ("duplicate a=mid:%s")."""
    if re.search(r"(^|\s)!(\s|$)", text):
        return True
    tokens = [tok for tok, _ in tokenize(text)]
    return (lone_element and len(tokens) >= 2
            and is_element_word(tokens[0])
            and all("=" in tok for tok in tokens[1:]))


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


# ---- pipeline files ----

def scan_pipeline_file(path, text):
    """Elements of a pipelines/*.pipeline file; '#' lines are comments."""
    # Blank out comments rather than drop them, so offsets keep their lines.
    body = re.sub(r"(?m)^[ \t]*#.*$", lambda m: " " * len(m.group(0)), text)
    return [Need("element", name, "%s:%d" % (path, line_of(body, off)))
            for name, off in pipeline_elements(body)]


# ---- C ----

C_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
# A run of adjacent literals, which C joins into one string.
C_STRINGS = re.compile(r'"(?:[^"\\\n]|\\.)*"(?:\s*"(?:[^"\\\n]|\\.)*")*')
# Strings and character literals are matched too, so that "*/*" or '"'
# is not taken for the start of a comment or a string.
C_COMMENT = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)+\''
                       r"|/\*.*?\*/|//[^\n]*", re.S)
C_MAKE = re.compile(r"\bgst_element_factory_make\s*\(\s*([A-Za-z_]\w*)?")
C_PARSE = re.compile(r"\bgst_parse_(?:launch(?:_full)?|bin_from_description"
                     r"(?:_full)?)\s*\(\s*(?=\")")


def strip_c_comments(text):
    """Comments and character literals blanked to spaces (newlines kept,
    so lines stay right); strings kept."""
    def blank(m):
        if m.group(0).startswith('"'):
            return m.group(0)
        return re.sub(r"[^\n]", " ", m.group(0))
    return C_COMMENT.sub(blank, text)


def c_string(run):
    """The string a run of adjacent C literals makes, escapes undone."""
    text = "".join(m.group(1) for m in C_STRING.finditer(run))
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(
        m.group(1), m.group(1)), text)


def scan_c(path, text, factory_names=frozenset()):
    """Elements named in C: literal and variable arguments of
    gst_element_factory_make (a variable's literals from its last
    assignment before the call, e.g. a muxer chosen by file name),
    descriptions given to gst_parse_* or built with printf formats (any
    string that reads as one), and any other string literal that is the
    name of an element factory in factory_names (a codec table, a
    comparison with a factory's name)."""
    code = strip_c_comments(text)
    needs = []
    seen = set()

    def add(name, offset):
        key = (name, line_of(code, offset))
        if key not in seen:
            seen.add(key)
            needs.append(Need("element", name, "%s:%d" % (path, key[1])))

    def add_pipeline(string, offset):
        for name, _ in pipeline_elements(string):
            add(name, offset)

    for m in C_MAKE.finditer(code):
        if m.group(1) is None:
            lit = C_STRING.match(code, m.end())
            if lit:
                add(lit.group(1), m.start())
            continue
        # A variable: the literals of its last assignment before the call.
        assign = None
        for a in re.finditer(r"\b%s\s*=(?!=)([^;]*);" % re.escape(m.group(1)),
                             code[:m.start()]):
            assign = a
        if assign is not None:
            for lit in C_STRING.finditer(assign.group(1)):
                if is_element_word(lit.group(1)):
                    add(lit.group(1), m.start())
    for m in C_PARSE.finditer(code):
        add_pipeline(c_string(C_STRINGS.match(code, m.end()).group(0)),
                     m.start())
    for run in C_STRINGS.finditer(code):
        string = c_string(run.group(0))
        if looks_like_pipeline(string, lone_element=False):
            add_pipeline(string, run.start())
        elif string in factory_names:
            add(string, run.start())
    return needs


# ---- Python ----

PARSE_CALLS = {"parse_launch", "parse_bin_from_description", "set_launch"}
SUBPROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output"}
ARGV_NAMES = {"argv", "cmd", "command", "args"}
BIN_PATH = re.compile(r"^/(?:usr/)?s?bin/[A-Za-z0-9_.+-]+$")


def _strings(node):
    """String constants of an expression, with "a" + "b" and "a" % x
    folded to their literal parts."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.BinOp):
        left, right = _strings(node.left), _strings(node.right)
        if isinstance(node.op, ast.Add) and left and right:
            return left[:-1] + [left[-1] + right[0]] + right[1:]
        if isinstance(node.op, ast.Mod):
            return left
        return left + right
    return []


def _program_of_list(node):
    """The program of an argv list literal (or argv list + more)."""
    if isinstance(node, ast.BinOp):
        node = node.left
    if (isinstance(node, ast.List) and node.elts
            and isinstance(node.elts[0], ast.Constant)
            and isinstance(node.elts[0].value, str)
            and re.match(r"^[/A-Za-z]", node.elts[0].value)):
        return node.elts[0].value
    return None


def scan_python(path, text):
    """Elements, programs, modules and typelibs a Python file needs."""
    tree = ast.parse(text, path)
    needs = []

    def add(kind, name, node):
        needs.append(Need(kind, name, "%s:%d" % (path, node.lineno)))

    def add_pipeline(string, node):
        for name, _ in pipeline_elements(string):
            add("element", name, node)

    required = set()
    imported_gi = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add("module", alias.name.split(".")[0], node)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                if node.module == "gi.repository":
                    imported_gi += [(a.name, node) for a in node.names]
                add("module", node.module.split(".")[0], node)
        elif isinstance(node, ast.Call):
            func = node.func
            attr = func.attr if isinstance(func, ast.Attribute) else None
            args = node.args
            if attr == "make" and args and _strings(args[0]):
                add("element", _strings(args[0])[0], node)
            elif attr in PARSE_CALLS and args:
                for s in _strings(args[0]):
                    add_pipeline(s, node)
            elif attr == "require_version" and len(args) == 2:
                ns, version = _strings(args[0]), _strings(args[1])
                if ns and version:
                    required.add(ns[0])
                    add("typelib", "%s-%s" % (ns[0], version[0]), node)
            elif attr == "which" and args and _strings(args[0]):
                add("program", _strings(args[0])[0], node)
            elif attr in SUBPROCESS_CALLS and args:
                program = _program_of_list(args[0])
                if program:
                    add("program", program, node)
        elif isinstance(node, ast.Assign):
            names = {t.id for t in node.targets if isinstance(t, ast.Name)}
            program = _program_of_list(node.value)
            if names & ARGV_NAMES and program:
                add("program", program, node)
        elif isinstance(node, ast.AugAssign):
            if (isinstance(node.target, ast.Name)
                    and node.target.id in ARGV_NAMES):
                program = _program_of_list(node.value)
                if program and program.startswith("/"):
                    add("program", program, node)
        elif isinstance(node, ast.FunctionDef) and node.name in ARGV_NAMES:
            for ret in ast.walk(node):
                if isinstance(ret, ast.Return) and ret.value is not None:
                    program = _program_of_list(ret.value)
                    if program:
                        add("program", program, ret)
    # Descriptions built up in pieces (constants, helper functions,
    # whip-client's -V/-A): every string that reads as one, apart from
    # docstrings and other bare strings, which are prose.
    prose = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)
             and isinstance(n.value, ast.Constant)}
    for node in ast.walk(tree):
        if id(node) in prose:
            continue
        if isinstance(node, (ast.Constant, ast.BinOp)):
            for s in _strings(node):
                if BIN_PATH.match(s):
                    add("program", s, node)
                elif looks_like_pipeline(s):
                    add_pipeline(s, node)
    for name, node in imported_gi:
        if name not in required:
            add("typelib", name + "-*", node)
    return _unique(needs)


def _unique(needs):
    seen = set()
    out = []
    for need in needs:
        if need not in seen:
            seen.add(need)
            out.append(need)
    return out


# ---- JavaScript (the browser tests) ----

JS_SPAWN = re.compile(r"\b(?:spawn|execFileSync|execFile|spawnSync)\s*\(\s*"
                      r"[\"'`]([^\"'`]+)[\"'`]")
JS_STRING = re.compile(r"[\"'`]([^\"'`\n]*)[\"'`]")


def scan_js(path, text, named_programs=()):
    """Programs a browser test starts: literal spawn/execFileSync
    commands, absolute /usr/bin paths, and the programs in
    named_programs that are looked for by name (MiniBrowser)."""
    needs = []
    for m in JS_SPAWN.finditer(text):
        needs.append(Need("program", m.group(1),
                          "%s:%d" % (path, line_of(text, m.start()))))
    for m in JS_STRING.finditer(text):
        s = m.group(1)
        if BIN_PATH.match(s) or s in named_programs:
            needs.append(Need("program", s,
                              "%s:%d" % (path, line_of(text, m.start()))))
    return _unique(needs)


# ---- meson ----

# A literal name, not the start of one built with '+'.
MESON_CALL = re.compile(
    r"\b(dependency|find_program)\s*\(\s*'([^']+)'\s*[,)]")


def scan_meson(path, text):
    """What a meson.build asks for: pkg-config modules (dependency(); not
    meson's own 'threads') and programs (find_program() by name)."""
    needs = []
    for m in MESON_CALL.finditer(text):
        where = "%s:%d" % (path, line_of(text, m.start()))
        if m.group(1) == "dependency" and m.group(2) != "threads":
            needs.append(Need("pkgconfig", m.group(2), where))
        elif m.group(1) == "find_program":
            needs.append(Need("program", m.group(2), where))
    return needs


# ---- shell ----

SHELL_WORDS = {
    "!", ".", ":", "[", "break", "case", "cd", "continue", "command", "do", "done", "echo", "elif",
    "else", "esac", "eval", "exec", "exit", "export", "false", "fi", "for",
    "if", "in", "local", "printf", "pwd", "read", "return", "set", "shift",
    "test", "then", "trap", "true", "umask", "unset", "wait", "while",
}


def scan_shell(path, text):
    """Programs a shell script runs: the first word of each command (after
    exec, if, &&, |, ;, $( ...), what `command -v` looks for, and the
    compiler a CC= assignment names."""
    needs = []
    heredoc = None
    for lineno, line in enumerate(text.splitlines(), 1):
        # A here-document is another program's input, not commands.
        if heredoc is not None:
            if line.strip() == heredoc:
                heredoc = None
            continue
        m = re.search(r"<<-?\s*['\"]?(\w+)", line)
        if m:
            heredoc = m.group(1)
        # Messages in double quotes; single-quoted sh -c scripts stay.
        line = re.sub(r'"[^"]*"', '""', re.sub(r"(^|\s)#.*", "", line))
        # The script of sh -c '...' is commands too.
        line = re.sub(r"-c\s+'", "-c ; ", line)
        where = "%s:%d" % (path, lineno)
        for m in re.finditer(r"\bcommand -v ([A-Za-z0-9_.+-]+)", line):
            needs.append(Need("program", m.group(1), where))
        for m in re.finditer(r"\bCC=([A-Za-z0-9_.+-]+)", line):
            needs.append(Need("program", m.group(1), where))
        for part in re.split(r"\$\(|&&|\|\||[;|`(){}]", line):
            words = part.split()
            while words and (words[0] in SHELL_WORDS or "=" in words[0]):
                words.pop(0)
            if not words:
                continue
            word = words[0]
            if (re.match(r"^[A-Za-z][A-Za-z0-9_.+-]*$", word)
                    or BIN_PATH.match(word)):
                needs.append(Need("program", word, where))
    return _unique(needs)

"""Intra-file taint tracking over tree-sitter trees, for every supported grammar: the analysis.

A small abstract interpreter walks each function body in order, keeping an
environment name → :class:`Value` (taint labels, constant, container shape),
and records the value of every expression it evaluates. Rule predicates then
ask "which untrusted data reaches this node?".

What it models (see docs/security.md for the long form):

* sources: request objects (by parameter type, parameter name or a global
  such as Flask's ``request``) and their members, argv/environment/stdin/
  sockets/files, parameters of route handlers, out-parameters (``fgets``);
* propagation: assignment (kills on reassignment), concatenation, f-strings,
  template strings, ``%``, ``format``/``join``/``Sprintf`` (any unknown call
  passes its arguments' taint through), lists and dicts with constant keys and
  positions (``put``/``get``, ``append``/``pop``), for-each, casts;
* same-file helpers: a summary says which parameters reach the return value,
  and taint at call sites is pushed into the helper's body for its own sinks;
* constant folding: literals, arithmetic, comparisons, ``x if c else y``,
  ``if``/``while``/``switch`` on constants (dead branches are skipped and
  remembered so that no finding is reported inside them);
* sanitisers: per-CWE (``html.escape`` cleans for XSS, not for SQL) or total
  (``int()``, ``parseInt``), configured in the rule files.

The interpreter is split along its seams: ``grammar`` (node-type tables),
``folding`` (constants), ``statements`` (the statement executor),
``expressions`` (the expression evaluator) and ``calls`` (call handling, in
numbered phases). :class:`TaintAnalysis` joins them and owns all their state.
Recursion is bounded by ``MAX_DEPTH`` nesting levels (statements, expressions,
patterns and helper summaries together); deeper parts count as unknown.
"""

from __future__ import annotations

import bisect
import functools
import logging
import re
from dataclasses import dataclass, field

from qcn.indexer.security.taint.calls import CallHandler
from qcn.indexer.security.taint.expressions import ExpressionEvaluator
from qcn.indexer.security.taint.grammar import (
    FUNCTION_TYPES, HTTP_METHODS, LOCAL_SOURCE, MAX_DEPTH, MEMBER_TYPES, PATH_NAME_TYPES, key,
)
from qcn.indexer.security.taint.statements import StatementExecutor
from qcn.indexer.security.values import ALL, Label, Origin, Value

# parameter types that carry no attacker data (contexts, loggers, numbers, flags, callbacks)
NOT_DATA_TYPE = re.compile(r"(?i)(context\.Context|\*?testing\.|\blogger\b|\blog\.|\b(int|int\d+|uint\d*|float\d*|"
                           r"bool|boolean|long|short|double|byte|rune|error|time\.Duration|func\b))")

log = logging.getLogger(__name__)
_MAX_ANSWERS = 20_000  # TaintConfig._answers is cleared past this many paths (a long-lived server)


# Reads of request headers: request.headers(.get("X") / ["x"]), r.Header(.Get("X")), req.get("X") and
# req.header("X") in Express, request.getHeader("X") in Java.
REQUEST_HEADER_READ = re.compile(r"\.headers\b|\.Header\b|\.getHeaders?\(|\breq\.(get|header)\(")
NO_LINE_BREAK_CWES = frozenset({113, 117, 93})  # header and log injection: a CR/LF splits the line


# CommonJS exports (TaintAnalysis._commonjs_exports)
_EXPORTS_MEMBER = re.compile(r"\bexports\.([A-Za-z_$][\w$]*)\s*=")
_EXPORTS_NAME = re.compile(r"\bexports\s*=\s*([A-Za-z_$][\w$]*)")
_EXPORTS_OBJECT = re.compile(r"\bexports\s*=\s*\{([^}]*)")
_JS_WORD = re.compile(r"[A-Za-z_$][\w$]*")


@dataclass(frozen=True)
class TaintConfig:
    """The ``[taint]`` table of a rule file: where untrusted data comes from and what cleans it."""

    request_names: frozenset[str] = frozenset()  # unbound globals that are request objects (Flask's request)
    request_param_names: frozenset[str] = frozenset()  # handler parameters that are request objects
    request_types: re.Pattern | None = None  # parameter types that are request objects
    request_members: frozenset[str] = frozenset()  # members/methods of a request object that are untrusted
    sources: frozenset[str] = frozenset()  # dotted call/attribute paths that are untrusted
    source_methods: frozenset[str] = frozenset()  # method names that return untrusted data on any receiver
    out_sources: dict = field(default_factory=dict)  # C: function -> argument indices filled with input
    out_propagators: dict = field(default_factory=dict)  # C: strcpy/sprintf -> index of the destination argument
    handler_decorators: re.Pattern | None = None  # decorators that make a function a request handler
    tainted_param_annotations: re.Pattern | None = None  # Java/Spring: @RequestParam etc.
    main_args: bool = False  # argv of main() is untrusted
    sanitizers: dict = field(default_factory=dict)  # name -> frozenset of CWEs (ALL = every CWE)
    python_semantics: bool = False
    logical_returns_operand: bool = False
    family: str = ""
    parameter_sources: bool = True  # parameters of public functions are (caller-supplied) sources
    # answers of is_source_path / sanitizer_for, per dotted path (the same few names recur in every file)
    _answers: dict = field(default_factory=dict, compare=False, repr=False)

    @functools.cached_property
    def request_words(self) -> frozenset[str]:
        """Names that are a request object wherever they appear as a member (self.request, flask.request)."""
        return self.request_names | self.request_param_names

    @classmethod
    def from_dict(cls, d: dict, language_family: str) -> TaintConfig:
        def rx(key):
            return re.compile(d[key]) if d.get(key) else None

        sanitizers = {}
        for name, cwes in (d.get("sanitizers") or {}).items():
            sanitizers[name] = frozenset(ALL if c == "*" else int(c) for c in cwes)
        return cls(
            request_names=frozenset(d.get("request_names", ())),
            request_param_names=frozenset(d.get("request_param_names", ())),
            request_types=rx("request_types"),
            request_members=frozenset(d.get("request_members", ())),
            sources=frozenset(d.get("sources", ())),
            source_methods=frozenset(d.get("source_methods", ())),
            out_sources={k: tuple(v) for k, v in (d.get("out_sources") or {}).items()},
            out_propagators={k: int(v) for k, v in (d.get("out_propagators") or {}).items()},
            handler_decorators=rx("handler_decorators"),
            tainted_param_annotations=rx("tainted_param_annotations"),
            main_args=bool(d.get("main_args", False)),
            sanitizers=sanitizers,
            python_semantics=language_family == "python",
            logical_returns_operand=language_family in ("python", "javascript"),
            family=language_family,
            parameter_sources=bool(d.get("parameter_sources", True)),
        )

    def sanitizer_for(self, path: str) -> frozenset[int] | None:
        if not path:
            return None
        k = ("sanitizer", path)
        if k not in self._answers:
            if len(self._answers) > _MAX_ANSWERS:
                self._answers.clear()
            self._answers[k] = self._sanitizer_for(path)
        return self._answers[k]

    def _sanitizer_for(self, path: str) -> frozenset[int] | None:
        if path in self.sanitizers:
            return self.sanitizers[path]
        parts = path.split(".")
        for i in range(1, len(parts)):
            tail = ".".join(parts[i:])
            if tail in self.sanitizers:
                return self.sanitizers[tail]
        return None

    def is_source_path(self, path: str) -> bool:
        k = ("source", path)
        if k not in self._answers:
            if len(self._answers) > _MAX_ANSWERS:
                self._answers.clear()
            self._answers[k] = self._is_source_path(path)
        return self._answers[k]

    def _is_source_path(self, path: str) -> bool:
        if path in self.sources:
            return True
        parts = path.split(".")
        # a prefix of the path is a source (sys.argv[1], os.environ.get)
        return any(".".join(parts[:i]) in self.sources for i in range(1, len(parts)))


@dataclass
class Param:
    name: str
    index: int
    node: object
    type_text: str = ""
    annotations: str = ""


@dataclass
class Function:
    node: object
    name: str
    params: list[Param]
    body: object
    decorators: str = ""


class TaintAnalysis(StatementExecutor, ExpressionEvaluator, CallHandler):
    """Run once per document; then ask :meth:`value_of` for any expression node."""

    def __init__(self, root, data: bytes, config: TaintConfig, function_nodes=None):
        """``function_nodes``: the nodes of ``root`` whose type is in FUNCTION_TYPES, when the caller has found
        them already (the engine's query walk does); otherwise the tree is walked for them."""
        self.root = root
        self._function_nodes = function_nodes
        self.data = data
        self._text_str = data.decode("utf-8", "replace")
        self._ascii = data.isascii()
        self._exports: frozenset[str] | None = None  # CommonJS exports, read on first use
        self.config = config
        self.values: dict[tuple[int, int, int], Value] = {}
        self.dead: list[tuple[int, int]] = []
        self._dead_index: tuple | None = None  # (len(dead), starts, reach), for is_dead
        self.functions: dict[str, list[Function]] = {}
        self._all_functions: list[Function] = []
        self._summaries: dict[tuple[int, int, int], Value] = {}
        self._cut_summaries: dict[tuple[int, int, int], int] = {}  # helper -> shallowest depth the bound cut it
        self._in_progress: set = set()
        self._incoming: dict[tuple[int, int, int], dict[int, frozenset]] = {}  # helper -> call-site taint
        self._incoming_seen: dict[tuple[int, int, int], dict[int, frozenset]] = {}  # ... already pushed in
        self._recording = True  # record values (off while summarising a helper or evaluating out of order)
        self._returns: list[list[Value]] = []  # per function being run: the values it returns
        self._depth = 0  # nesting levels followed so far (bounded by MAX_DEPTH)
        self._truncated = 0  # how often the bound cut the analysis short
        self.module_env: dict[str, Value] = {}
        self._ran = False

    def run(self) -> TaintAnalysis:
        if self._ran:
            return self
        self._ran = True
        self._collect_functions(self.root)
        env: dict[str, Value] = {}
        self._exec_module(self.root, env)
        self.module_env = env
        for fn in self._all_functions:
            self._run_function(fn, None)
        for _ in range(3):  # push call-site taint into same-file helpers until nothing changes
            pending = dict(self._incoming)
            changed = [k for k, v in pending.items() if self._incoming_seen.get(k) != v]
            if not changed:
                break
            for k in changed:
                self._incoming_seen[k] = pending[k]
            for fn in self._all_functions:
                if key(fn.node) in changed:
                    self._run_function(fn, pending[key(fn.node)])
        if self._truncated:
            log.debug("taint: %d parts nested deeper than %d levels were taken as unknown", self._truncated, MAX_DEPTH)
        return self

    def value_of(self, node) -> Value:
        self.run()
        v = self.values.get(key(node))
        if v is not None:
            return v
        # not reached by the walk (class fields, decorators, dead code): evaluate alone
        saved, self._recording = self._recording, False
        try:
            return self._ev(node, dict(self.module_env))
        finally:
            self._recording = saved

    def is_handler(self, fn_node) -> bool:
        """Whether a function node is a request handler (route decorator or view(request, ...))."""
        fn = self._function(fn_node)
        return fn is not None and self._handler(fn)

    def _handler(self, fn: Function) -> bool:
        cfg = self.config
        if cfg.handler_decorators and fn.decorators and cfg.handler_decorators.search(fn.decorators):
            return True
        if fn.name.startswith("_"):  # a private helper handed the request (Django's _not_modified), not a view
            return False
        plain = [p for p in fn.params if p.name not in ("self", "cls")]
        is_method = len(plain) < len(fn.params)
        # Django view(request, slug) or class-based view get(self, request, pk)
        return bool(cfg.python_semantics and plain and plain[0].name in cfg.request_param_names
                    and not plain[0].type_text and (not is_method or fn.name in HTTP_METHODS))

    def is_dead(self, node) -> bool:
        self.run()
        dead = self.dead
        if not dead:
            return False
        if self._dead_index is None or self._dead_index[0] != len(dead):
            # Ranges by start, with the furthest end of any range starting at or before each: a node lies in
            # a dead range iff one starting at or before it ends at or after it (a bisection, not a scan of
            # every range per match: a large file has hundreds).
            ranges = sorted(dead)
            starts, reach, far = [], [], -1
            for s, e in ranges:
                far = max(far, e)
                starts.append(s)
                reach.append(far)
            self._dead_index = (len(dead), starts, reach)
        _, starts, reach = self._dead_index
        i = bisect.bisect_right(starts, node.start_byte) - 1
        return i >= 0 and reach[i] >= node.end_byte

    def text(self, node) -> str:
        if self._ascii:  # byte offsets are character offsets: slice the decoded text (no decode per node)
            return self._text_str[node.start_byte:node.end_byte]
        return self.data[node.start_byte:node.end_byte].decode("utf-8", "replace")

    def _collect_functions(self, root) -> None:
        if self._function_nodes is not None:  # in document order, an enclosing function before those inside
            nodes = sorted(self._function_nodes, key=lambda n: (n.start_byte, -n.end_byte))
        else:
            nodes, stack = [], [root]
            while stack:
                n = stack.pop()
                if n.type in FUNCTION_TYPES:
                    nodes.append(n)
                stack.extend(reversed(n.named_children))
        for n in nodes:
            fn = self._function(n)
            if fn is not None:
                self._all_functions.append(fn)
                if fn.name:
                    self.functions.setdefault(fn.name, []).append(fn)

    def _function(self, n) -> Function | None:
        body = n.child_by_field_name("body")
        if body is None:
            return None
        name_node = n.child_by_field_name("name")
        name = self.text(name_node) if name_node is not None else ""
        params_node = n.child_by_field_name("parameters") or n.child_by_field_name("parameter")
        decl = n.child_by_field_name("declarator")
        if decl is not None:  # C/C++: the name and parameters hide in the declarator chain
            while decl is not None and decl.type != "function_declarator":
                decl = decl.child_by_field_name("declarator")
            if decl is not None:
                params_node = decl.child_by_field_name("parameters")
                inner = decl.child_by_field_name("declarator")
                if inner is not None:
                    name = self.text(inner).split("::")[-1]
        if not name and n.parent is not None and n.parent.type in ("variable_declarator", "assignment_expression",
                                                                   "pair", "assignment"):
            target = n.parent.child_by_field_name("name") or n.parent.child_by_field_name("left") \
                or n.parent.child_by_field_name("key")
            if target is not None:
                name = self.text(target).split(".")[-1]
        params = self._params(params_node)
        decorators = ""
        if n.parent is not None and n.parent.type == "decorated_definition":
            decorators = " ".join(self.text(c) for c in n.parent.named_children if c.type == "decorator")
        return Function(n, name, params, body, decorators)

    def _params(self, node) -> list[Param]:
        if node is None:
            return []
        if node.type == "identifier":  # arrow function with one bare parameter
            return [Param(self.text(node), 0, node)]
        out: list[Param] = []
        for c in node.named_children:
            if c.type in ("comment", "line_comment", "block_comment", "self_parameter"):
                continue
            type_node = c.child_by_field_name("type")
            type_text = self.text(type_node) if type_node is not None else ""
            annotations = " ".join(self.text(m) for m in c.named_children if m.type == "modifiers")
            names = [m for m in c.children_by_field_name("name")] if c.type == "parameter_declaration" else []
            if c.type == "parameter_declaration" and names:  # Go: a, b string
                for nm in names:
                    out.append(Param(self.text(nm), len(out), nm, type_text))
                continue
            ident = self._param_ident(c)
            out.append(Param(self.text(ident) if ident is not None else "", len(out), c, type_text, annotations))
        return out

    def _param_ident(self, c):
        """The identifier a parameter binds: down its name/pattern/declarator/left fields (no recursion)."""
        while c.type not in ("identifier", "shorthand_property_identifier_pattern"):
            sub = next((s for s in map(c.child_by_field_name, ("name", "pattern", "declarator", "left"))
                        if s is not None), None)
            if sub is None:
                return next((s for s in c.named_children if s.type == "identifier"), None)
            c = sub
        return c

    def _entry_env(self, fn: Function) -> dict[str, Value]:
        cfg = self.config
        env = dict(self.module_env)
        handler = self._handler(fn)
        public = cfg.parameter_sources and not handler and self.is_public(fn)
        for p in fn.params:
            if not p.name:
                continue
            v = Value(type_name=p.type_text)
            is_request = (cfg.request_types is not None and p.type_text and cfg.request_types.search(p.type_text)) \
                or (p.name in cfg.request_param_names and (not p.type_text or p.type_text.strip(": ") == "any"))
            if is_request:
                v = Value(kind="request", type_name=p.type_text)
            elif handler and p.name not in ("self", "cls") and p.name not in cfg.request_names:
                v = self._source_value(p.node, f"parameter '{p.name}' of request handler")
            elif cfg.tainted_param_annotations is not None and p.annotations \
                    and cfg.tainted_param_annotations.search(p.annotations):
                v = self._source_value(p.node, f"request-bound parameter '{p.name}'")
            elif cfg.main_args and fn.name == "main" and (
                    p.name in ("argv", "args") or (p.index == 1 and "char" in p.type_text)):
                v = self._source_value(p.node, f"command-line arguments '{p.name}'", remote=False)
            elif public and p.name not in ("self", "cls", "this") and not NOT_DATA_TYPE.search(p.type_text):
                v = Value(labels=frozenset({Label(Origin(
                    f"parameter '{p.name}' of the public function '{fn.name}'", p.node.start_byte, p.node.end_byte,
                    caller=True))}), type_name=p.type_text)
            env[p.name] = v
        return env

    def is_public(self, fn: Function) -> bool:
        """A function other code calls with data this file does not see: exported (Go: capitalised; JS/TS:
        ``export``ed or assigned to ``module.exports``/``exports``; Java: ``public``; Python: a module-level
        function or a method of a module-level class, not ``_private``). C is left to ``main``."""
        lang = self.config.family
        name = fn.name
        if not name or name.startswith("_") or name == "main" or name.startswith("test") or name == "init":
            return False
        n = fn.node
        if lang == "go":
            return n.type in ("function_declaration", "method_declaration") and name[0].isupper()
        if lang == "java":
            mods = next((c for c in n.children if c.type == "modifiers"), None)
            return n.type == "method_declaration" and mods is not None and "public" in self.text(mods).split()
        if lang == "javascript":
            p = n.parent
            while p is not None and p.type in ("variable_declarator", "lexical_declaration", "variable_declaration"):
                p = p.parent
            if p is not None and p.type == "export_statement":
                return True
            return name in self._commonjs_exports()
        if lang == "python":
            p = n.parent
            if p is not None and p.type == "decorated_definition":
                p = p.parent
            if p is not None and p.type == "module":
                return True
            if p is not None and p.type == "block" and p.parent is not None and p.parent.type == "class_definition":
                cls = p.parent
                outer = cls.parent.parent if cls.parent is not None and cls.parent.type == "decorated_definition" \
                    else cls.parent
                cname = cls.child_by_field_name("name")
                return outer is not None and outer.type == "module" and cname is not None and \
                    not self.text(cname).startswith("_")
        return False

    def _commonjs_exports(self) -> frozenset[str]:
        """The names a CommonJS file exports (``exports.f =``, ``module.exports = f``, ``module.exports = {f, g:
        h}``), read from the text once per file: a search per function made a large bundle quadratic."""
        names = self._exports
        if names is None:
            text, found = self._text_str, set()
            if "exports" in text:
                found.update(m.group(1) for m in _EXPORTS_MEMBER.finditer(text))
                found.update(m.group(1) for m in _EXPORTS_NAME.finditer(text))
                for m in _EXPORTS_OBJECT.finditer(text):
                    found.update(_JS_WORD.findall(m.group(1)))
            names = self._exports = frozenset(found)
        return names

    def _run_function(self, fn: Function, incoming: dict[int, frozenset] | None) -> None:
        env = self._entry_env(fn)
        if incoming:
            for p in fn.params:
                if p.index in incoming and p.name:
                    env[p.name] = env[p.name].join(Value(labels=incoming[p.index]))
        self._returns.append([])
        try:
            self._exec_body(fn.body, env)
        finally:
            self._returns.pop()

    def _record(self, n, v: Value) -> Value:
        if self._recording:
            k = key(n)
            old = self.values.get(k)
            self.values[k] = v if old is None else old.join(v)
        return v

    def _source_value(self, n, description: str, remote: bool | None = None) -> Value:
        if remote is None:
            remote = not LOCAL_SOURCE.search(description)
        # A request header's value cannot hold a CR or LF (HTTP parsers reject them: RFC 9110 §5.5), so
        # copying one into a response header or a log line cannot split it.
        cleansed = NO_LINE_BREAK_CWES if REQUEST_HEADER_READ.search(self.text(n)) else frozenset()
        return Value(labels=frozenset({Label(Origin(description, n.start_byte, n.end_byte, remote=remote), cleansed)}))

    def _path(self, n) -> str:
        """Dotted path of an identifier/member chain (``os.path.join``), '' for anything else."""
        members: list[str] = []  # innermost last: walked from the outside in, without recursion
        while True:
            t = n.type
            if t in PATH_NAME_TYPES:
                base = self.text(n)
                break
            if t in MEMBER_TYPES:
                of, mf = MEMBER_TYPES[t]
                obj, mem = n.child_by_field_name(of), n.child_by_field_name(mf)
                if obj is None or mem is None:
                    return ""
                members.append(self.text(mem))
                n = obj
            elif t == "scoped_type_identifier":
                base = self.text(n).replace("::", ".")
                break
            elif t == "generic_type" and n.named_children:
                n = n.named_children[0]
            else:
                return ""
        if not base:
            return ""
        return ".".join([base, *reversed(members)])

    def _mark_dead(self, n) -> None:
        if n is not None:
            self.dead.append((n.start_byte, n.end_byte))

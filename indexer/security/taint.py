"""Intra-file taint tracking over tree-sitter trees, for every supported grammar.

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
"""

from __future__ import annotations

import logging
import operator
import re
from dataclasses import dataclass, field

from qcn.indexer.security.values import ALL, UNKNOWN, Label, Origin, Value, join_all, meet, propagate, safe_of

log = logging.getLogger(__name__)

FUNCTION_TYPES = frozenset({
    "function_definition", "function_declaration", "function_expression", "function", "arrow_function",
    "method_definition", "generator_function_declaration", "generator_function", "method_declaration",
    "constructor_declaration", "lambda_expression", "func_literal", "lambda",
})
CLASS_TYPES = frozenset({
    "class_definition", "class_declaration", "class", "class_body", "interface_declaration",
    "enum_declaration", "decorated_definition", "class_specifier", "struct_specifier", "declaration_list",
    "namespace_definition", "export_statement", "field_declaration_list", "template_declaration",
})
STRING_TYPES = frozenset({
    "string", "string_literal", "interpreted_string_literal", "raw_string_literal", "template_string",
    "concatenated_string", "text_block", "character_literal", "char_literal", "rune_literal",
})
NUMBER_TYPES = frozenset({
    "integer", "float", "number", "decimal_integer_literal", "hex_integer_literal", "octal_integer_literal",
    "binary_integer_literal", "decimal_floating_point_literal", "int_literal", "float_literal",
    "number_literal",
})
CONST_WORDS = {"true": True, "True": True, "false": False, "False": False, "none": None, "None": None,
               "null": None, "null_literal": None, "nil": None, "undefined": None}
MEMBER_TYPES = {  # node type -> (object field, member field)
    "attribute": ("object", "attribute"),
    "member_expression": ("object", "property"),
    "selector_expression": ("operand", "field"),
    "field_access": ("object", "field"),
    "field_expression": ("argument", "field"),
    "scoped_identifier": ("scope", "name"),
    "qualified_identifier": ("scope", "name"),
}
SUBSCRIPT_TYPES = {  # node type -> (container field, index field)
    "subscript": ("value", "subscript"),
    "subscript_expression": ("object", "index"),
    "array_access": ("array", "index"),
    "index_expression": ("operand", "index"),
}
CALL_TYPES = frozenset({"call", "call_expression", "method_invocation", "new_expression", "object_creation_expression"})
COMPARISON_OPS = frozenset({"==", "!=", "<", ">", "<=", ">=", "===", "!==", "is", "is not", "in", "not in",
                            "instanceof"})
VALUE_LOGICAL_OPS = frozenset({"or", "and", "||", "&&", "??"})
LIST_TYPES = frozenset({"list", "tuple", "array", "array_initializer", "expression_list", "set"})
DICT_TYPES = frozenset({"dictionary", "object"})
BOOL_METHOD = re.compile(r"^(is|has|equals|contains|startsWith|endsWith|startswith|endswith|matches|"
                         r"exists|isdigit|isalnum|isalpha|isnumeric|hasNext|hasMoreElements|size|len|length|"
                         r"count|indexOf|index|find|compareTo|hashCode)")
MUTATORS_APPEND = frozenset({"append", "add", "push", "addLast", "offer", "unshift", "addFirst", "insert", "extend",
                             "addAll", "concat", "write", "print", "println", "appendChild", "WriteString"})
MUTATORS_PUT = frozenset({"put", "set", "setdefault", "putIfAbsent", "setProperty", "setAttribute", "Set", "Add"})
GETTERS = frozenset({"get", "getOrDefault", "getProperty", "Get", "getAttribute", "item", "at", "elementAt",
                     "valueOf", "pop", "remove", "poll", "shift", "getFirst", "getLast", "peek", "firstElement",
                     "lastElement"})
_OPS = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "%": operator.mod, "**": operator.pow,
    "//": operator.floordiv, "<<": operator.lshift, ">>": operator.rshift, "&": operator.and_,
    "|": operator.or_, "^": operator.xor, "==": operator.eq, "===": operator.eq, "!=": operator.ne,
    "!==": operator.ne, "<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge,
}
MAX_DEPTH = 120  # expression nesting followed; deeper parts count as unknown (no global recursion limit change)
HTTP_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "dispatch"})
# sources controlled by whoever runs the program (no trust boundary for path or redirect rules)
LOCAL_SOURCE = re.compile(r"argv|environ|getenv|\benv\b|stdin|'input\(|raw_input|os\.Args|console|fileinput|"
                          r"LookupEnv|System\.in|command-line|fgets|gets|scanf|getline|readLine|nextLine|"
                          r"ReadString|ReadLine|file content|fread")
_PURE_BUILTINS = {"len": len, "int": int, "str": str, "float": float, "abs": abs, "bool": bool, "ord": ord,
                  "chr": chr, "min": min, "max": max, "strlen": len, "Integer.parseInt": int,
                  "Math.abs": abs, "Math.max": max, "Math.min": min}


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
        )

    def sanitizer_for(self, path: str) -> frozenset[int] | None:
        if not path:
            return None
        if path in self.sanitizers:
            return self.sanitizers[path]
        parts = path.split(".")
        for i in range(1, len(parts)):
            tail = ".".join(parts[i:])
            if tail in self.sanitizers:
                return self.sanitizers[tail]
        return None

    def is_source_path(self, path: str) -> bool:
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


def key(node) -> tuple[int, int, int]:
    return (node.start_byte, node.end_byte, node.kind_id)


class TaintAnalysis:
    """Run once per document; then ask :meth:`value_of` for any expression node."""

    def __init__(self, root, data: bytes, config: TaintConfig):
        self.root = root
        self.data = data
        self.config = config
        self.values: dict[tuple[int, int, int], Value] = {}
        self.dead: list[tuple[int, int]] = []
        self.functions: dict[str, list[Function]] = {}
        self._all_functions: list[Function] = []
        self._summaries: dict[tuple[int, int, int], Value] = {}
        self._in_progress: set = set()
        self._incoming: dict[tuple[int, int, int], dict[int, frozenset]] = {}
        self._recording = True
        self._returns: list[list[Value]] = []
        self._depth = 0
        self.module_env: dict[str, Value] = {}
        self._ran = False

    # -- public ---------------------------------------------------------
    def run(self) -> TaintAnalysis:
        if self._ran:
            return self
        self._ran = True
        try:
            self._collect_functions(self.root)
            env: dict[str, Value] = {}
            self._exec_module(self.root, env)
            self.module_env = env
            for fn in self._all_functions:
                self._run_function(fn, None)
            for _ in range(3):  # push call-site taint into same-file helpers until nothing changes
                pending = dict(self._incoming)
                self._incoming_seen = getattr(self, "_incoming_seen", {})
                changed = [k for k, v in pending.items() if self._incoming_seen.get(k) != v]
                if not changed:
                    break
                for k in changed:
                    self._incoming_seen[k] = pending[k]
                for fn in self._all_functions:
                    if key(fn.node) in changed:
                        self._run_function(fn, pending[key(fn.node)])
        except RecursionError:  # pathological nesting: keep what was recorded so far
            log.debug("taint: recursion limit reached; analysis is partial")
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
        except RecursionError:
            return Value()
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
        plain = [p for p in fn.params if p.name not in ("self", "cls")]
        is_method = len(plain) < len(fn.params)
        # Django view(request, slug) or class-based view get(self, request, pk)
        return bool(cfg.python_semantics and plain and plain[0].name in cfg.request_param_names
                    and not plain[0].type_text and (not is_method or fn.name in HTTP_METHODS))

    def is_dead(self, node) -> bool:
        self.run()
        return any(s <= node.start_byte and node.end_byte <= e for s, e in self.dead)

    def text(self, node) -> str:
        return self.data[node.start_byte:node.end_byte].decode("utf-8", "replace")

    # -- functions ------------------------------------------------------
    def _collect_functions(self, root) -> None:
        stack = [root]
        while stack:
            n = stack.pop()
            if n.type in FUNCTION_TYPES:
                fn = self._function(n)
                if fn is not None:
                    self._all_functions.append(fn)
                    if fn.name:
                        self.functions.setdefault(fn.name, []).append(fn)
            stack.extend(reversed(n.named_children))

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
        if c.type in ("identifier", "shorthand_property_identifier_pattern"):
            return c
        for fname in ("name", "pattern", "declarator", "left"):
            sub = c.child_by_field_name(fname)
            if sub is not None:
                return self._param_ident(sub)
        for sub in c.named_children:
            if sub.type == "identifier":
                return sub
        return None

    def _entry_env(self, fn: Function) -> dict[str, Value]:
        cfg = self.config
        env = dict(self.module_env)
        handler = self._handler(fn)
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
            env[p.name] = v
        return env

    def _run_function(self, fn: Function, incoming: dict[int, frozenset] | None) -> None:
        env = self._entry_env(fn)
        if incoming:
            for p in fn.params:
                if p.index in incoming and p.name:
                    env[p.name] = env[p.name].join(Value(labels=incoming[p.index]))
        self._returns.append([])
        try:
            self._exec_body(fn.body, env)
        except RecursionError:
            log.debug("taint: recursion limit in %s", fn.name)
        finally:
            self._returns.pop()

    def _summary(self, fn: Function, args: list[Value]) -> Value:
        k = key(fn.node)
        if k in self._in_progress:
            return propagate(args)
        summary = self._summaries.get(k)
        if summary is None:
            self._in_progress.add(k)
            saved, self._recording = self._recording, False
            env = self._entry_env(fn)
            for p in fn.params:
                if p.name and env[p.name].kind != "request":
                    # symbolic parameter: its taint is tracked by the label, its "safety" comes from the caller
                    env[p.name] = Value(labels=frozenset({Label(Origin(p.name, param=p.index))}),
                                        safe=frozenset({ALL}))
            self._returns.append([])
            try:
                self._exec_body(fn.body, env)
                summary = join_all(self._returns[-1]) if self._returns[-1] else Value(const=None)
            except RecursionError:
                summary = Value(labels=frozenset(Label(Origin(p.name, param=p.index)) for p in fn.params))
            finally:
                self._returns.pop()
                self._recording = saved
                self._in_progress.discard(k)
            self._summaries[k] = summary
        # substitute the symbolic parameter labels with the actual arguments
        labels = set()
        safe = summary.safe
        for lb in summary.labels:
            if lb.origin.is_param:
                if lb.origin.param < len(args):
                    arg = args[lb.origin.param]
                    labels |= {Label(a.origin, a.cleansed | lb.cleansed) for a in arg.labels}
                    safe = meet(safe, safe_of(arg) | lb.cleansed)
            else:
                labels.add(lb)
        return Value(labels=frozenset(labels), const=summary.const, safe=safe)

    def _resolve(self, name: str, nargs: int) -> Function | None:
        for fn in self.functions.get(name, ()):
            params = [p for p in fn.params if p.name not in ("self", "cls")]
            if len(params) == nargs or (params and nargs > len(params) and "*" in self.text(params[-1].node)):
                return fn
            if nargs < len(params) and all("=" in self.text(p.node) for p in params[nargs:]):
                return fn
        return None

    # -- statements -----------------------------------------------------
    def _exec_module(self, root, env) -> None:
        for c in root.named_children:
            if c.type in FUNCTION_TYPES:
                continue
            if c.type in CLASS_TYPES:
                self._exec_module(c.child_by_field_name("body") or c, env)
                continue
            self._exec(c, env)

    def _exec_body(self, body, env) -> None:
        if body.type in ("block", "statement_block", "compound_statement", "statement_list", "constructor_body",
                         "switch_block_statement_group"):
            for c in body.named_children:
                self._exec(c, env)
        else:  # expression-bodied lambdas and arrow functions
            v = self._exec(body, env)
            if v is not None and self._returns:
                self._returns[-1].append(v)

    def _exec(self, n, env) -> Value | None:
        t = n.type
        if t in FUNCTION_TYPES or t in ("class_definition", "class_declaration", "decorated_definition",
                                       "import_statement", "import_from_statement", "import_declaration",
                                       "package_clause", "comment", "line_comment", "block_comment",
                                       "preproc_include", "using_declaration"):
            return None
        handler = getattr(self, "_st_" + t, None)
        if handler is not None:
            return handler(n, env)
        if t in ("block", "statement_block", "compound_statement", "statement_list", "else_clause",
                 "finally_clause", "try_statement", "with_statement", "with_clause", "labeled_statement",
                 "synchronized_statement", "try_with_resources_statement", "resource_specification", "defer_statement",
                 "go_statement", "catch_clause", "except_clause", "expression_statement", "declaration_list",
                 "block_statement", "program", "module", "source_file", "translation_unit"):
            last = None
            for c in n.named_children:
                last = self._exec(c, env)
            return last
        return self._ev(n, env)

    def _st_return_statement(self, n, env):
        vals = [self._ev(c, env) for c in n.named_children if c.type not in ("comment",)]
        if self._returns:
            self._returns[-1].append(join_all(vals) if len(vals) <= 1 else Value.of_list(vals))
        return None

    def _st_if_statement(self, n, env):
        init = n.child_by_field_name("initializer")
        if init is not None:
            self._exec(init, env)
        cond = self._ev(n.child_by_field_name("condition"), env)
        cons = n.child_by_field_name("consequence")
        alts = n.children_by_field_name("alternative")
        truth = _truth(cond)
        if truth is True:
            for a in alts:
                self._mark_dead(a)
            self._exec(cons, env)
            return None
        if truth is False:
            self._mark_dead(cons)
            if alts:
                self._exec_alternatives(alts, env)
            return None
        branches = []
        env_a = dict(env)
        self._exec(cons, env_a)
        branches.append(env_a)
        env_b = dict(env)
        if alts:
            self._exec_alternatives(alts, env_b)
        branches.append(env_b)
        _merge_into(env, branches)
        return None

    def _exec_alternatives(self, alts, env):
        first, rest = alts[0], alts[1:]
        if first.type == "elif_clause":  # Python: elif chains are siblings
            cond = self._ev(first.child_by_field_name("condition"), env)
            truth = _truth(cond)
            cons = first.child_by_field_name("consequence")
            if truth is True:
                for a in rest:
                    self._mark_dead(a)
                self._exec(cons, env)
            elif truth is False:
                self._mark_dead(cons)
                if rest:
                    self._exec_alternatives(rest, env)
            else:
                env_a, env_b = dict(env), dict(env)
                self._exec(cons, env_a)
                if rest:
                    self._exec_alternatives(rest, env_b)
                _merge_into(env, [env_a, env_b])
        elif first.type == "else_clause" and first.child_by_field_name("body") is not None:
            self._exec(first.child_by_field_name("body"), env)
        else:
            self._exec(first, env)

    def _loop(self, n, env, bind=None):
        body = n.child_by_field_name("body")
        cond = n.child_by_field_name("condition")
        if cond is not None and n.type in ("while_statement",) and _truth(self._ev(cond, env)) is False:
            self._mark_dead(body)
            return None
        if body is None:
            for c in n.named_children:
                self._exec(c, env)
            return None
        pre = dict(env)
        loop_env = dict(env)
        for _ in range(2):
            if bind is not None:
                bind(loop_env)
            self._exec(body, loop_env)
        alt = n.child_by_field_name("alternative")
        if alt is not None:
            self._exec(alt, loop_env)
        _merge_into(env, [pre, loop_env])
        return None

    def _st_while_statement(self, n, env):
        return self._loop(n, env)

    def _st_do_statement(self, n, env):
        return self._loop(n, env)

    def _st_for_statement(self, n, env):
        left, right = n.child_by_field_name("left"), n.child_by_field_name("right")
        if left is not None and right is not None:  # Python for x in y
            it = self._ev(right, env)
            return self._loop(n, env, lambda e: self._bind(left, _element(it), e))
        rng = next((c for c in n.named_children if c.type == "range_clause"), None)
        if rng is not None:  # Go for k, v := range xs
            it = self._ev(rng.child_by_field_name("right"), env)
            targets = rng.child_by_field_name("left")

            def bind_range(e):
                if targets is not None:
                    for t in targets.named_children:
                        self._bind(t, Value(labels=it.labels), e)
            return self._loop(n, env, bind_range)
        for fname in ("initializer", "init"):
            init = n.child_by_field_name(fname)
            if init is not None:
                self._exec(init, env)
        for c in n.named_children:
            if c.type == "for_clause":
                for sub in c.named_children:
                    self._exec(sub, env)
        return self._loop(n, env)

    def _st_for_in_statement(self, n, env):
        left, right = n.child_by_field_name("left"), n.child_by_field_name("right")
        it = self._ev(right, env) if right is not None else Value()
        return self._loop(n, env, lambda e: left is not None and self._bind(left, _element(it), e))

    def _st_enhanced_for_statement(self, n, env):
        it = self._ev(n.child_by_field_name("value"), env)
        name = n.child_by_field_name("name")
        return self._loop(n, env, lambda e: name is not None and self._bind(name, _element(it), e))

    def _st_for_range_loop(self, n, env):  # C++ for (auto x : xs)
        it = self._ev(n.child_by_field_name("right"), env)
        decl = n.child_by_field_name("declarator")
        return self._loop(n, env, lambda e: decl is not None and self._bind(decl, _element(it), e))

    def _st_switch_expression(self, n, env):
        return self._switch(n, env)

    _st_switch_statement = _st_switch_expression
    _st_expression_switch_statement = _st_switch_expression

    def _switch(self, n, env):
        subject_node = n.child_by_field_name("condition") or n.child_by_field_name("value")
        subject = self._ev(subject_node, env) if subject_node is not None else Value()
        body = n.child_by_field_name("body") or n
        cases = []  # (labels or None for default, statements, falls_through)
        for g in body.named_children:
            if g.type in ("switch_block_statement_group", "switch_rule"):
                labels_nodes = [c for c in g.named_children if c.type == "switch_label"]
                stmts = [c for c in g.named_children if c.type != "switch_label"]
                exprs = [e for lab in labels_nodes for e in lab.named_children]
                default = any(self.text(lab).startswith("default") for lab in labels_nodes)
                cases.append((None if default else exprs, stmts, g.type != "switch_rule"))
            elif g.type in ("switch_case", "switch_default", "case_statement", "expression_case", "default_case"):
                value = g.child_by_field_name("value")
                exprs = list(value.named_children) if value is not None and value.type == "expression_list" \
                    else ([value] if value is not None else [])
                stmts = [c for c in g.named_children if c is not None and (value is None or key(c) != key(value))]
                fall = g.type in ("switch_case", "switch_default", "case_statement")
                cases.append((None if not exprs else exprs, stmts, fall))
        if not cases:
            for c in n.named_children:
                self._exec(c, env)
            return None
        label_values = [[self._ev(e, env) for e in (exprs or [])] for exprs, _, _ in cases]
        start = None
        if subject.const is not UNKNOWN and all(v.const is not UNKNOWN for vs in label_values for v in vs):
            for i, (exprs, _, _) in enumerate(cases):
                if exprs is not None and any(v.const == subject.const for v in label_values[i]):
                    start = i
                    break
            if start is None:
                start = next((i for i, c in enumerate(cases) if c[0] is None), -1)
            if start == -1:
                for _, stmts, _ in cases:
                    for s in stmts:
                        self._mark_dead(s)
                return None
            for i in range(len(cases)):
                if i < start:
                    for s in cases[i][1]:
                        self._mark_dead(s)
            self._run_case_from(cases, start, env, dead_after=True)
            return None
        branches = []
        for i in range(len(cases)):
            e = dict(env)
            self._run_case_from(cases, i, e, dead_after=False)
            branches.append(e)
        if not any(c[0] is None for c in cases):
            branches.append(dict(env))
        _merge_into(env, branches)
        return None

    def _run_case_from(self, cases, start, env, dead_after):
        i = start
        while i < len(cases):
            _, stmts, fall = cases[i]
            for s in stmts:
                if s.type == "break_statement":
                    if dead_after:
                        for _, later, _ in cases[i + 1:]:
                            for x in later:
                                self._mark_dead(x)
                    return
                self._exec(s, env)
            if not fall:
                return
            i += 1

    def _st_local_variable_declaration(self, n, env):
        type_node = n.child_by_field_name("type")
        type_text = self.text(type_node) if type_node is not None else ""
        for d in n.children_by_field_name("declarator"):
            self._declare(d, env, type_text)
        return None

    _st_field_declaration = _st_local_variable_declaration
    _st_declaration = _st_local_variable_declaration

    def _declare(self, d, env, type_text=""):
        if d.type in ("variable_declarator", "init_declarator"):
            target = d.child_by_field_name("name") or d.child_by_field_name("declarator")
            value_node = d.child_by_field_name("value")
            v = self._ev(value_node, env) if value_node is not None else Value(const=None)
            if type_text and not v.type_name:
                v = Value(v.labels, v.const, v.items, v.keys, v.kind, type_text)
            if self.config.request_types is not None and type_text and self.config.request_types.search(type_text):
                v = Value(v.labels, v.const, v.items, v.keys, "request", type_text)
            if target is not None:
                self._bind(target, v, env)
        else:
            ident = _innermost_identifier(d)
            if ident is not None:
                env[self.text(ident)] = Value(type_name=type_text)

    def _st_lexical_declaration(self, n, env):
        for d in n.named_children:
            if d.type == "variable_declarator":
                self._declare(d, env)
        return None

    _st_variable_declaration = _st_lexical_declaration

    def _st_var_declaration(self, n, env):  # Go var x = ..., also grouped specs
        specs = [c for c in n.named_children if c.type == "var_spec"]
        for c in n.named_children:
            if c.type == "var_spec_list":
                specs.extend(s for s in c.named_children if s.type == "var_spec")
        for spec in specs:
            names = spec.children_by_field_name("name")
            value = spec.child_by_field_name("value")
            vals = [self._ev(v, env) for v in value.named_children] if value is not None else []
            for i, nm in enumerate(names):
                self._bind(nm, vals[i] if i < len(vals) else join_all(vals) if vals else Value(const=None), env)
        return None

    _st_const_declaration = _st_var_declaration

    def _st_short_var_declaration(self, n, env):
        return self._assign(n.child_by_field_name("left"), n.child_by_field_name("right"), env, "=")

    def _st_assignment_statement(self, n, env):
        op_node = n.child_by_field_name("operator")
        return self._assign(n.child_by_field_name("left"), n.child_by_field_name("right"), env,
                            self.text(op_node) if op_node is not None else "=")

    # -- assignments ----------------------------------------------------
    def _assign(self, left, right, env, op="=") -> Value:
        if right is None:
            return Value()
        if left is not None and left.type == "expression_list" and right.type == "expression_list":
            lefts, rights = left.named_children, [self._ev(r, env) for r in right.named_children]
            if len(lefts) == len(rights):
                for lnode, v in zip(lefts, rights):
                    self._bind(lnode, v, env)
            else:
                whole = join_all(rights)
                for lnode in lefts:
                    self._bind(lnode, Value(labels=whole.labels), env)
            return join_all(rights)
        v = self._ev(right, env)
        if right.type == "expression_list" and len(right.named_children) == 1:
            v = self._ev(right.named_children[0], env)
        if op not in ("=", ":="):
            old = self._ev(left, env)
            v = _binary(op.rstrip("="), old, v, self.config.python_semantics)
        if left is not None:
            self._bind(left, v, env)
        return v

    def _bind(self, target, v: Value, env) -> None:
        t = target.type
        if t in ("identifier", "shorthand_property_identifier_pattern", "field_identifier", "as_pattern_target"):
            name = self.text(target)
            if name != "_":
                env[name] = v
            self._record(target, v)
        elif t in ("pattern_list", "tuple_pattern", "list_pattern", "array_pattern", "expression_list", "tuple",
                   "list", "object_pattern"):
            elems = [c for c in target.named_children]
            for i, c in enumerate(elems):
                if t == "object_pattern":
                    if c.type == "pair_pattern":
                        k, val = c.child_by_field_name("key"), c.child_by_field_name("value")
                        self._bind(val, v.get_item(self.text(k)) if k is not None else Value(labels=v.labels), env)
                    else:
                        self._bind(c, v.get_item(self.text(c)), env)
                else:
                    self._bind(c, v.get_item(i) if v.items is not None else Value(labels=v.labels), env)
        elif t in MEMBER_TYPES or t in ("this", "self"):
            path = self._path(target)
            if path:
                env[path] = v
        elif t in SUBSCRIPT_TYPES:
            self._store_item(target, v, env)
        elif t in ("pointer_declarator", "reference_declarator", "array_declarator", "pointer_expression",
                   "parenthesized_expression", "parenthesized_declarator", "as_pattern", "assignment_pattern",
                   "required_parameter", "optional_parameter", "rest_pattern", "list_splat_pattern"):
            inner = target.child_by_field_name("declarator") or target.child_by_field_name("argument") \
                or target.child_by_field_name("left") or target.child_by_field_name("pattern") \
                or target.child_by_field_name("alias") \
                or (target.named_children[0] if target.named_children else None)
            if inner is not None:
                self._bind(inner, v, env)

    def _store_item(self, target, v: Value, env) -> None:
        base, idx = _subscript_parts(target)
        k = self._ev(idx, env).const if idx is not None else UNKNOWN
        old = self._ev(base, env) if base is not None else Value()
        new = _set_item(old, k, v)
        if base is not None:
            if base.type in SUBSCRIPT_TYPES:
                self._store_item(base, new, env)
            else:
                self._bind(base, new, env)

    def _path(self, n) -> str:
        """Dotted path of an identifier/member chain (``os.path.join``), '' for anything else."""
        t = n.type
        if t in ("identifier", "type_identifier", "field_identifier", "property_identifier", "package_identifier",
                 "this", "self", "namespace_identifier"):
            return self.text(n)
        if t in MEMBER_TYPES:
            of, mf = MEMBER_TYPES[t]
            obj, mem = n.child_by_field_name(of), n.child_by_field_name(mf)
            if obj is None or mem is None:
                return ""
            base = self._path(obj)
            return f"{base}.{self.text(mem)}" if base else ""
        if t == "scoped_type_identifier":
            return self.text(n).replace("::", ".")
        if t == "generic_type":
            inner = n.named_children[0] if n.named_children else None
            return self._path(inner) if inner is not None else ""
        return ""

    # -- expressions ----------------------------------------------------
    def _record(self, n, v: Value) -> Value:
        if self._recording:
            k = key(n)
            old = self.values.get(k)
            self.values[k] = v if old is None else old.join(v)
        return v

    def _ev(self, n, env) -> Value:
        if n is None:
            return Value()
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                return Value()
            return self._record(n, self._ev_inner(n, env))
        finally:
            self._depth -= 1

    def _ev_inner(self, n, env) -> Value:
        t = n.type
        if t in ("identifier", "this", "self"):
            return self._ev_identifier(n, env)
        if t in STRING_TYPES:
            return self._ev_string(n, env)
        if t in NUMBER_TYPES:
            return Value.constant(_number(self.text(n)))
        if t in CONST_WORDS:
            return Value.constant(CONST_WORDS[t])
        if t in ("true", "false", "none", "null", "nil", "undefined", "null_literal"):
            return Value.constant(CONST_WORDS.get(t))
        if t in MEMBER_TYPES:
            return self._ev_member(n, env)
        if t in SUBSCRIPT_TYPES:
            return self._ev_subscript(n, env)
        if t in CALL_TYPES:
            return self._ev_call(n, env)
        if t in ("binary_operator", "binary_expression", "boolean_operator", "comparison_operator"):
            return self._ev_binary(n, env)
        if t in ("not_operator", "unary_operator", "unary_expression"):
            arg = n.child_by_field_name("argument") or n.child_by_field_name("operand") \
                or (n.named_children[-1] if n.named_children else None)
            v = self._ev(arg, env)
            op = self.text(n)[:1] if t != "not_operator" else "!"
            if op in ("!",):
                return Value.constant(not v.const) if v.const is not UNKNOWN else Value()
            if op == "-" and isinstance(v.const, (int, float)):
                return Value.constant(-v.const)
            return Value(labels=v.labels)
        if t in ("conditional_expression", "ternary_expression"):
            cond_node = n.child_by_field_name("condition")
            if cond_node is None:  # Python: a if c else b
                kids = n.named_children
                if len(kids) < 3:
                    return propagate(self._ev(c, env) for c in kids)
                cons, cond_node, alt = kids[0], kids[1], kids[2]
            else:
                cons, alt = n.child_by_field_name("consequence"), n.child_by_field_name("alternative")
            truth = _truth(self._ev(cond_node, env))
            if truth is True:
                self._mark_dead(alt)
                return self._ev(cons, env)
            if truth is False:
                self._mark_dead(cons)
                return self._ev(alt, env)
            return self._ev(cons, env).join(self._ev(alt, env))
        if t in ("assignment", "assignment_expression", "augmented_assignment", "augmented_assignment_expression",
                 "named_expression"):
            left = n.child_by_field_name("left") or n.child_by_field_name("name")
            right = n.child_by_field_name("right") or n.child_by_field_name("value")
            op_node = n.child_by_field_name("operator")
            op = self.text(op_node) if op_node is not None else "="
            if t == "assignment" and n.child_by_field_name("right") is None:
                return Value()  # bare annotation: x: int
            return self._assign(left, right, env, op)
        if t in ("parenthesized_expression", "await_expression", "cast_expression", "as_expression",
                 "non_null_expression", "type_assertion_expression", "satisfies_expression", "expression_statement",
                 "spread_element", "list_splat", "dictionary_splat", "literal_element", "parenthesized_type",
                 "type_conversion_expression"):
            kids = [c for c in n.named_children if not c.type.endswith("type") and c.type not in
                    ("type_identifier", "integral_type", "generic_type", "scoped_type_identifier",
                     "predefined_type", "type_annotation", "type_descriptor", "qualified_type")]
            vals = [self._ev(c, env) for c in kids]
            if not vals:
                return Value()
            return vals[-1]
        if t in LIST_TYPES:
            return Value.of_list([self._ev(c, env) for c in n.named_children if c.type != "comment"])
        if t in DICT_TYPES:
            return self._ev_dict(n, env)
        if t == "composite_literal":  # Go T{...}
            body = n.child_by_field_name("body")
            if body is None:
                return Value()
            kids = body.named_children
            if any(c.type == "keyed_element" for c in kids):
                pairs = []
                for c in kids:
                    if c.type == "keyed_element":
                        k = c.child_by_field_name("key") or (c.named_children[0] if c.named_children else None)
                        val = c.child_by_field_name("value") or (c.named_children[-1] if c.named_children else None)
                        kv = self._ev(k, env).const if k is not None else UNKNOWN
                        if kv is UNKNOWN and k is not None:
                            kv = self.text(k)
                        pairs.append((kv, self._ev(val, env)))
                return Value.of_dict(pairs)
            return Value.of_list([self._ev(c, env) for c in kids])
        if t == "array_creation_expression":
            init = n.child_by_field_name("value")
            return self._ev(init, env) if init is not None else Value.of_list([])
        if t in ("list_comprehension", "generator_expression", "set_comprehension", "dictionary_comprehension"):
            return propagate(self._ev(c, env) for c in n.named_children)
        if t in FUNCTION_TYPES or t in ("comment",):
            return Value()
        if t in ("template_substitution", "interpolation"):
            return propagate(self._ev(c, env) for c in n.named_children)
        if t in ("keyword_argument", "pair"):
            v = n.child_by_field_name("value")
            return self._ev(v, env) if v is not None else Value()
        if t == "instanceof_expression":
            self._ev(n.child_by_field_name("left"), env)
            return Value()
        if t in ("sizeof_expression", "alignof_expression", "offsetof_expression", "typeof_expression"):
            return Value()
        # anything else (update_expression, pointer_expression, slices, ...): pass the children's taint through
        kids = n.named_children
        if not kids:
            return Value()
        return propagate(self._ev(c, env) for c in kids)

    def _ev_identifier(self, n, env) -> Value:
        name = self.text(n)
        if name in env:
            return env[name]
        if name in self.config.request_names:
            return Value(kind="request")
        if self.config.is_source_path(name):
            return self._source_value(n, f"'{name}'")
        return Value()

    def _source_value(self, n, description: str, remote: bool | None = None) -> Value:
        if remote is None:
            remote = not LOCAL_SOURCE.search(description)
        return Value(labels=frozenset({Label(Origin(description, n.start_byte, n.end_byte, remote=remote))}))

    def _ev_string(self, n, env) -> Value:
        t = n.type
        parts = []
        dynamic = []
        for c in n.named_children:
            ct = c.type
            if ct in ("string_content", "string_fragment", "interpreted_string_literal_content",
                      "raw_string_literal_content", "escape_sequence", "character", "multiline_string_fragment"):
                txt = self.text(c)
                parts.append(_unescape(txt) if ct == "escape_sequence" else txt)
            elif ct in ("interpolation", "template_substitution", "string_interpolation"):
                dynamic.append(self._ev(c, env))
            elif ct in STRING_TYPES:  # concatenated_string
                v = self._ev(c, env)
                if v.const is UNKNOWN or v.labels:
                    dynamic.append(v)
                else:
                    parts.append(str(v.const))
            elif ct in ("string_start", "string_end"):
                continue
        if dynamic:
            return propagate(dynamic)
        if not n.named_children or all(c.type in ("string_start", "string_end") for c in n.named_children):
            raw = self.text(n)
            if t in ("character_literal", "char_literal", "rune_literal"):
                inner = raw[1:-1]
                return Value.constant(_unescape(inner) if inner.startswith("\\") else inner)
            if t == "raw_string_literal":
                return Value.constant(raw.strip("`"))
            return Value.constant("")
        return Value.constant("".join(parts))

    def _ev_member(self, n, env) -> Value:
        of, mf = MEMBER_TYPES[n.type]
        obj_node, mem_node = n.child_by_field_name(of), n.child_by_field_name(mf)
        path = self._path(n)
        if path and path in env:
            if obj_node is not None:
                self._ev(obj_node, env)
            return env[path]
        obj = self._ev(obj_node, env) if obj_node is not None else Value()
        member = self.text(mem_node) if mem_node is not None else ""
        if self.config.python_semantics and member in self.config.request_names | self.config.request_param_names \
                and not obj.labels and obj.keys is None:
            return Value(kind="request")  # flask.request, self.request in a class-based view
        if obj.kind == "request":
            if member in self.config.request_members:
                return self._source_value(n, f"request data '{self.text(n)}'")
            return Value()
        if path and self.config.is_source_path(path):
            return self._source_value(n, f"'{path}'")
        if obj.keys is not None:
            return obj.get_item(member)
        if member in ("length", "size", "len"):
            return Value()
        return Value(labels=obj.labels, kind=obj.kind)

    def _ev_subscript(self, n, env) -> Value:
        base_node, idx_node = _subscript_parts(n)
        base = self._ev(base_node, env)
        idx = self._ev(idx_node, env) if idx_node is not None else Value()
        if idx_node is not None and idx_node.type == "slice":
            return Value(labels=base.labels, const=UNKNOWN)
        return base.get_item(idx.const)

    def _ev_dict(self, n, env) -> Value:
        pairs = []
        for c in n.named_children:
            if c.type == "pair":
                k, v = c.child_by_field_name("key"), c.child_by_field_name("value")
                kv = self._ev(k, env).const if k is not None and k.type not in (
                    "property_identifier",) else (self.text(k) if k is not None else UNKNOWN)
                pairs.append((kv, self._ev(v, env)))
            elif c.type in ("shorthand_property_identifier",):
                pairs.append((self.text(c), env.get(self.text(c), Value())))
            elif c.type in ("spread_element", "dictionary_splat"):
                v = self._ev(c, env)
                pairs.append((UNKNOWN, v))
        if any(k is UNKNOWN for k, _ in pairs):
            return Value(labels=frozenset().union(*(v.labels for _, v in pairs)))
        return Value.of_dict(pairs)

    def _ev_binary(self, n, env) -> Value:
        left, right = n.child_by_field_name("left"), n.child_by_field_name("right")
        op_node = n.child_by_field_name("operator")
        kids = n.named_children
        if n.type == "comparison_operator":  # Python: a < b < c, operators are anonymous children
            vals = [self._ev(c, env) for c in kids]
            ops = [self.text(c) for c in n.children if not c.is_named]
            if len(vals) == 2 and len(ops) >= 1 and all(v.const is not UNKNOWN for v in vals):
                op = " ".join(ops)
                return _fold(op, vals[0].const, vals[1].const)
            return Value()
        if left is None or right is None:
            return propagate(self._ev(c, env) for c in kids)
        op = self.text(op_node) if op_node is not None else next(
            (self.text(c) for c in n.children if not c.is_named), "+")
        lv = self._ev(left, env)
        if op in VALUE_LOGICAL_OPS:
            operand = self.config.logical_returns_operand  # Python and JS return an operand, not a bool
            truth = _truth(lv)
            if (op in ("or", "||") and truth is True) or (op in ("and", "&&") and truth is False) \
                    or (op == "??" and truth is not None and lv.const is not None):
                self._mark_dead(right)
                return lv if operand else Value.constant(bool(truth))
            rv = self._ev(right, env)
            if truth is not None:  # a constant left side that does not decide: the right side is the result
                rt = _truth(rv)
                return rv if operand else (Value.constant(rt) if rt is not None else Value())
            return lv.join(rv) if operand else Value()
        rv = self._ev(right, env)
        return _binary(op, lv, rv, self.config.python_semantics)

    def _ev_call(self, n, env) -> Value:
        t = n.type
        cfg = self.config
        receiver_node = None
        if t == "method_invocation":
            receiver_node = n.child_by_field_name("object")
            name_node = n.child_by_field_name("name")
            method = self.text(name_node) if name_node is not None else ""
            base_path = self._path(receiver_node) if receiver_node is not None else ""
            path = f"{base_path}.{method}" if base_path else (method if receiver_node is None else "")
        elif t in ("new_expression", "object_creation_expression"):
            type_node = n.child_by_field_name("constructor") or n.child_by_field_name("type")
            path = self._path(type_node) if type_node is not None else ""
            method = path.split(".")[-1] if path else ""
            path = "new " + path if path else ""
        else:
            fn_node = n.child_by_field_name("function")
            path = self._path(fn_node) if fn_node is not None else ""
            method = path.split(".")[-1] if path else ""
            if fn_node is not None and fn_node.type in MEMBER_TYPES:
                receiver_node = fn_node.child_by_field_name(MEMBER_TYPES[fn_node.type][0])
                mem = fn_node.child_by_field_name(MEMBER_TYPES[fn_node.type][1])
                method = self.text(mem) if mem is not None else method
            elif fn_node is not None and path == "":
                self._ev(fn_node, env)
        receiver = self._ev(receiver_node, env) if receiver_node is not None else None
        args_node = n.child_by_field_name("arguments")
        arg_nodes = [c for c in args_node.named_children if c.type not in ("comment", "block_comment",
                                                                            "line_comment")] \
            if args_node is not None else []
        positional: list[Value] = []
        keywords: dict[str, Value] = {}
        for a in arg_nodes:
            v = self._ev(a, env)
            if a.type == "keyword_argument":
                name = a.child_by_field_name("name")
                keywords[self.text(name) if name is not None else ""] = v
            else:
                positional.append(v)
        all_args = positional + list(keywords.values())
        bare = path[4:] if path.startswith("new ") else path

        # 1. sources
        if receiver is not None and receiver.kind == "request" and method in cfg.request_members:
            return self._source_value(n, f"request data '{_short(self.text(n))}'")
        if bare and cfg.is_source_path(bare):
            return self._source_value(n, f"'{_short(self.text(n))}'")
        if method in cfg.source_methods and receiver_node is not None:
            return self._source_value(n, f"input from '{_short(self.text(n))}'")
        if receiver is not None and receiver.kind == "file" and method in ("read", "readline", "readlines"):
            return self._source_value(n, f"file content '{_short(self.text(n))}'")
        if bare in cfg.out_sources or method in cfg.out_sources:
            for i in cfg.out_sources.get(bare, cfg.out_sources.get(method, ())):
                if i < len(arg_nodes):
                    target = arg_nodes[i]
                    while target.type in ("pointer_expression", "parenthesized_expression") and target.named_children:
                        target = target.named_children[-1]
                    self._bind(target, self._source_value(n, f"input read by '{method}'"), env)
            if bare in ("gets", "getenv", "fgets", "getline", "readline"):
                return self._source_value(n, f"input read by '{method}'")
            return Value()
        if bare in cfg.out_propagators and arg_nodes:
            dest_i = cfg.out_propagators[bare]
            if dest_i < len(arg_nodes):
                dest = arg_nodes[dest_i]
                flow = propagate(v for i, v in enumerate(positional) if i != dest_i)
                if flow.labels:
                    self._bind(dest, self._ev(dest, env).join(flow) if dest.type == "identifier" else flow, env)
        if bare == "open" and cfg.python_semantics:
            return Value(kind="file")

        # 2. constant folding of pure builtins, then sanitisers and calls that return clean data
        if bare in _PURE_BUILTINS and positional and not keywords and all(
                a.is_const and a.items is None and a.keys is None for a in positional):
            try:
                return Value.constant(_PURE_BUILTINS[bare](*(a.const for a in positional)))
            except (TypeError, ValueError, OverflowError):
                pass
        cleans = cfg.sanitizer_for(bare) if bare else None
        if cleans is None and method and receiver_node is not None:
            cleans = cfg.sanitizer_for(method) if "." + method in ("." + k for k in cfg.sanitizers) else None
        if cleans is not None:
            inputs = all_args + ([receiver] if receiver is not None and not positional else [])
            return propagate(inputs).cleansed(cleans)
        if method and BOOL_METHOD.match(method) and receiver_node is not None:
            return self._fold_method(method, receiver, positional) or Value()

        # 3. helpers defined in this file
        fn = None
        if t not in ("new_expression", "object_creation_expression") and method:
            simple_receiver = receiver_node is None or self.text(receiver_node) in ("self", "this", "cls", "super") \
                or (receiver_node is not None and receiver_node.type in ("object_creation_expression",
                                                                         "new_expression"))
            if simple_receiver or (receiver is not None and not receiver.labels and receiver.kind == ""
                                   and receiver_node.type == "identifier"
                                   and receiver.items is None and receiver.keys is None
                                   and method not in GETTERS | MUTATORS_APPEND | MUTATORS_PUT):
                fn = self._resolve(method, len(positional) + len(keywords))
        if fn is not None:
            real = [frozenset(lb for lb in a.labels if not lb.origin.is_param) for a in positional]
            if any(real) and self._recording:
                incoming = dict(self._incoming.get(key(fn.node), {}))
                offset = 1 if fn.params and fn.params[0].name in ("self", "cls") else 0
                for i, labels in enumerate(real):
                    if labels:
                        incoming[i + offset] = incoming.get(i + offset, frozenset()) | labels
                self._incoming[key(fn.node)] = incoming
            offset = 1 if fn.params and fn.params[0].name in ("self", "cls") else 0
            args = ([Value()] * offset) + positional
            return self._summary(fn, args)

        # 4. containers and string builders
        if receiver is not None:
            folded = self._fold_method(method, receiver, positional)
            if folded is not None:
                return folded
            res = self._container_call(receiver_node, receiver, method, positional, env)
            if res is not None:
                return res
        if t in ("new_expression", "object_creation_expression"):
            if re.search(r"(Map|Properties|Dictionary|Hashtable|Object)$", bare or ""):
                return Value.of_dict([])
            if re.search(r"(List|Vector|Deque|Queue|Stack|Array|Set)$", bare or ""):
                return Value.of_list([])
        if bare in ("dict", "list", "make") and not positional:
            return Value.of_dict([]) if bare == "dict" else Value.of_list([])
        if bare in ("str", "String", "String.valueOf", "toString") and len(positional) == 1:
            p = positional[0]
            return Value(labels=p.labels, const=_to_str(p.const) if p.const is not UNKNOWN else UNKNOWN)

        # 5. anything else passes its inputs' taint through; made from constants alone, it is no input
        inputs = list(all_args)
        if receiver is not None and receiver.kind != "request":
            base = self._path(receiver_node).split(".")[0] if receiver_node is not None else ""
            if receiver.labels or not base or base in env:  # a module or class name adds no data
                inputs.append(receiver)
        out = propagate(inputs)
        return out if inputs else Value()

    def _fold_method(self, method, receiver: Value | None, args: list[Value]) -> Value | None:
        if receiver is None or not isinstance(receiver.const, str) or any(a.const is UNKNOWN for a in args):
            return None
        s = receiver.const
        a = [x.const for x in args]
        try:
            if method == "charAt" and len(a) == 1:
                return Value.constant(s[a[0]])
            if method in ("substring", "substr") and 1 <= len(a) <= 2:
                return Value.constant(s[a[0]:a[1]] if len(a) == 2 else s[a[0]:])
            if method in ("toUpperCase", "upper", "ToUpper"):
                return Value.constant(s.upper())
            if method in ("toLowerCase", "lower", "ToLower"):
                return Value.constant(s.lower())
            if method in ("trim", "strip", "TrimSpace"):
                return Value.constant(s.strip())
            if method in ("equals", "__eq__") and len(a) == 1:
                return Value.constant(s == a[0])
            if method in ("length", "size") and not a:
                return Value.constant(len(s))
            if method in ("startsWith", "startswith") and len(a) == 1:
                return Value.constant(s.startswith(a[0]))
            if method in ("endsWith", "endswith") and len(a) == 1:
                return Value.constant(s.endswith(a[0]))
            if method in ("contains",) and len(a) == 1:
                return Value.constant(a[0] in s)
        except (TypeError, IndexError, ValueError):
            return None
        return None

    def _container_call(self, receiver_node, receiver: Value, method, args: list[Value], env) -> Value | None:
        name = self._path(receiver_node) if receiver_node is not None else ""
        if method in MUTATORS_PUT and len(args) >= 2:
            k = args[0].const
            new = _set_item(receiver, k, args[1]) if receiver.keys is not None or not receiver.labels \
                else receiver.join(Value(labels=args[1].labels))
            if name:
                env[name] = new
            return Value()
        if method in MUTATORS_APPEND and args:
            if method in ("insert", "add") and len(args) == 2 and isinstance(args[0].const, int) \
                    and receiver.items is not None:
                items = list(receiver.items)
                items.insert(args[0].const, args[1])
                new = Value.of_list(items)
            elif method in ("append", "add", "push", "addLast", "offer") and receiver.items is not None \
                    and len(args) == 1:
                new = Value.of_list(receiver.items + (args[0],))
            elif method in ("unshift", "addFirst") and receiver.items is not None and len(args) == 1:
                new = Value.of_list((args[0],) + receiver.items)
            else:
                new = Value(labels=receiver.labels | propagate(args).labels, kind=receiver.kind,
                            type_name=receiver.type_name)
            if name:
                env[name] = new
            # StringBuilder.append returns the builder
            return new
        if method in ("pop", "remove", "shift", "poll", "removeFirst", "removeLast", "pollFirst", "pollLast") \
                and receiver.items is not None:
            items = list(receiver.items)
            if not items:
                return Value()
            if args and isinstance(args[0].const, int) and not isinstance(args[0].const, bool):
                idx = args[0].const
            elif args:
                return Value(labels=receiver.labels)
            else:
                idx = 0 if method in ("shift", "poll", "removeFirst", "pollFirst") or (
                    method == "remove" and not self.config.python_semantics) else -1
            if not -len(items) <= idx < len(items):
                return Value()
            out = items.pop(idx)
            if name:
                env[name] = Value.of_list(items)
            return out
        if method in GETTERS and (receiver.items is not None or receiver.keys is not None):
            if not args:
                return Value(labels=receiver.labels)
            got = receiver.get_item(args[0].const)
            if len(args) > 1 and receiver.keys is not None and not any(k == args[0].const for k, _ in receiver.keys):
                got = got.join(args[1])
            return got
        if method in ("keys", "values", "items", "entrySet", "keySet", "iterator", "toArray", "copy", "clone",
                      "stream", "toList", "asList", "elements", "nextElement", "next") and receiver is not None:
            return Value(labels=receiver.labels)
        return None

    def _mark_dead(self, n) -> None:
        if n is not None:
            self.dead.append((n.start_byte, n.end_byte))


# -- helpers ------------------------------------------------------------------

def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _truth(v: Value) -> bool | None:
    if v.const is UNKNOWN or v.labels:
        return None
    try:
        return bool(v.const)
    except Exception:  # noqa: BLE001 - an odd constant is simply "unknown"
        return None


def _element(it: Value) -> Value:
    if it.items is not None:
        return join_all(it.items) if it.items else Value()
    return Value(labels=it.labels, kind="" if it.kind == "request" else it.kind)


def _set_item(container: Value, k, v: Value) -> Value:
    if k is UNKNOWN:
        return Value(labels=container.labels | v.labels, items=None, keys=None)
    if container.items is not None and isinstance(k, int) and -len(container.items) <= k < len(container.items):
        items = list(container.items)
        items[k] = v
        return Value.of_list(items)
    if container.keys is not None or (not container.labels and container.items is None):
        pairs = [(kk, vv) for kk, vv in (container.keys or ()) if kk != k] + [(k, v)]
        return Value.of_dict(pairs)
    return Value(labels=container.labels | v.labels)


def _merge_into(env: dict, branches: list[dict]) -> None:
    """Join the branch environments into ``env`` (a name bound in only some branches keeps its old value
    as one of the possibilities). Only names some branch changed are touched."""
    changed = {k for b in branches for k, v in b.items() if env.get(k) is not v}
    for name in changed:
        vals = [b[name] for b in branches if name in b]
        if len(vals) < len(branches) and name in env:
            vals.append(env[name])
        env[name] = join_all(vals)


def _binary(op: str, lv: Value, rv: Value, python: bool) -> Value:
    if op in COMPARISON_OPS:
        if lv.const is not UNKNOWN and rv.const is not UNKNOWN and not lv.labels and not rv.labels:
            return _fold(op, lv.const, rv.const)
        return Value()
    if lv.const is not UNKNOWN and rv.const is not UNKNOWN and not lv.labels and not rv.labels:
        folded = _fold(op, lv.const, rv.const, python)
        if folded.const is not UNKNOWN:
            return folded
    return propagate((lv, rv))


def _fold(op: str, a, b, python: bool = True) -> Value:
    try:
        if op in ("is", "=="):
            return Value.constant(a == b)
        if op in ("is not", "!="):
            return Value.constant(a != b)
        if op == "in":
            return Value.constant(a in b)
        if op == "not in":
            return Value.constant(a not in b)
        if op == "+" and (isinstance(a, str) or isinstance(b, str)):
            return Value.constant(_to_str(a) + _to_str(b))
        if op == "%" and isinstance(a, str):
            return Value.constant(a % b)
        if op == "/" and isinstance(a, int) and isinstance(b, int) and not python:
            return Value.constant(int(a / b))
        if op == "/":
            return Value.constant(a / b)
        fn = _OPS.get(op)
        if fn is None:
            return Value()
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) or op in ("==", "!=", "===", "!=="):
            return Value.constant(fn(a, b))
        if isinstance(a, str) and isinstance(b, str) and op in ("<", ">", "<=", ">="):
            return Value.constant(fn(a, b))
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return Value()
    return Value()


def _to_str(v) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    return str(v)


def _number(text: str):
    t = text.replace("_", "").rstrip("lLuUfFdD") if not text.lower().startswith("0x") else text.replace("_", "")
    try:
        return int(t, 0)
    except ValueError:
        try:
            return float(t)
        except ValueError:
            return UNKNOWN


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"'}


def _unescape(s: str) -> str:
    if s.startswith("\\") and len(s) == 2:
        return _ESCAPES.get(s[1], s[1])
    return s


def _subscript_parts(n):
    """(container, index) of a subscript node in any grammar (C names the container 'argument')."""
    cf, idf = SUBSCRIPT_TYPES[n.type]
    base = n.child_by_field_name(cf) or n.child_by_field_name("argument")
    idx = n.child_by_field_name(idf) or n.child_by_field_name("indices")
    if idx is None and base is not None:
        idx = next((c for c in n.named_children if key(c) != key(base)), None)
    if idx is not None and idx.type == "subscript_argument_list" and idx.named_children:
        idx = idx.named_children[0]
    return base, idx


def _innermost_identifier(n):
    while n is not None and n.type not in ("identifier", "field_identifier"):
        n = n.child_by_field_name("declarator") or (n.named_children[0] if n.named_children else None)
    return n

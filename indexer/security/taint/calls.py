"""Calls in the taint interpreter: the numbered phases of :meth:`CallHandler._ev_call`.

1. sources (request members, configured source paths and methods, files);
2. sanitisers (per CWE, or total);
3. out-parameters (C's ``fgets``, ``strcpy``: the call writes into an argument);
4. constant folding of pure builtins and string methods;
5. containers (``append``/``put``/``get``/``pop`` on lists and dicts);
6. same-file helpers: a summary (which parameters reach the return value),
   and taint at the call site pushed into the helper's body;
7. anything else passes its arguments' (and receiver's) taint through.

A mixin of :class:`~qcn.indexer.security.taint.analysis.TaintAnalysis`, whose
``__init__`` owns all the state used here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from qcn.indexer.security.taint.folding import PURE_BUILTINS, set_item, to_str
from qcn.indexer.security.taint.grammar import (
    BOOL_METHOD, CONTAINER_METHODS, GETTERS, MAX_DEPTH, MEMBER_TYPES, MUTATORS_APPEND, MUTATORS_PUT, key, short,
)
from qcn.indexer.security.values import ALL, UNKNOWN, Label, Origin, Value, join_all, meet, propagate, safe_of

if TYPE_CHECKING:
    from qcn.indexer.security.taint.analysis import Function


def _every_parameter_reaches(fn: Function) -> Value:
    """The summary of a helper the depth bound cut short: any parameter may reach its result."""
    return Value(labels=frozenset(Label(Origin(p.name, param=p.index)) for p in fn.params))


class CallHandler:
    """Evaluates calls (see the module docstring for the phases)."""

    def _summary(self, fn: Function, args: list[Value]) -> Value:
        """The helper's return value for these arguments (its summary is computed once per helper)."""
        k = key(fn.node)
        if k in self._in_progress or self._depth >= MAX_DEPTH:  # recursion, or too deep: pass the taint through
            return propagate(args)
        summary = self._summaries.get(k)
        if summary is None and self._depth >= self._cut_summaries.get(k, MAX_DEPTH):
            # The depth bound already cut this helper short from a call no deeper than this one: the answer
            # would be the same "every parameter may reach the result" (recomputing it at every call site made
            # a large C file's call chains cost minutes).
            summary = _every_parameter_reaches(fn)
        elif summary is None:
            truncated = self._truncated
            self._depth += 1
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
            finally:
                self._returns.pop()
                self._recording = saved
                self._in_progress.discard(k)
                self._depth -= 1
            if self._truncated != truncated:
                # cut short by the depth bound: every parameter may reach the result; not kept, since a
                # shallower call site can compute the whole summary
                summary = _every_parameter_reaches(fn)
                self._cut_summaries[k] = min(self._depth, self._cut_summaries.get(k, MAX_DEPTH))
            else:
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
        bare = path[4:] if path.startswith("new ") else path
        if bare in PATH_JOINS and len(positional) > 1 and positional[0].labels:
            positional[0] = _caller_base_dir(positional[0])
        all_args = positional + list(keywords.values())

        # 1. sources
        if receiver is not None and receiver.kind == "request" and method in cfg.request_members:
            return self._source_value(n, f"request data '{short(self.text(n))}'")
        if bare and cfg.is_source_path(bare):
            return self._source_value(n, f"'{short(self.text(n))}'")
        if method in cfg.source_methods and receiver_node is not None:
            return self._source_value(n, f"input from '{short(self.text(n))}'")
        if receiver is not None and receiver.kind == "file" and method in ("read", "readline", "readlines"):
            return self._source_value(n, f"file content '{short(self.text(n))}'")
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
        if bare in PURE_BUILTINS and positional and not keywords and all(
                a.is_const and a.items is None and a.keys is None for a in positional):
            try:
                return Value.constant(PURE_BUILTINS[bare](*(a.const for a in positional)))
            except (TypeError, ValueError, OverflowError):
                pass
        cleans = cfg.sanitizer_for(bare) if bare else None
        if cleans is None and method and receiver_node is not None:
            cleans = cfg.sanitizers.get(method)  # a sanitiser named by its method alone (v.escape())
        if cleans is not None:
            inputs = all_args + ([receiver] if receiver is not None and not positional else [])
            return propagate(inputs).cleansed(cleans)
        if method in ("replace", "replaceAll", "Replace", "ReplaceAll") and receiver is not None and len(positional) >= 2:
            quoted = _quote_escape(positional[-2].const, positional[-1].const)
            if quoted:  # v.replace("'", "&apos;"): no quote is left to close an XPath string literal
                return propagate([receiver, positional[-1]]).cleansed(quoted)
        if method == "replace" and receiver is not None and len(positional) == 2 and len(arg_nodes) == 2 \
                and self._escapes_regex(arg_nodes[0], positional[1].const):
            return propagate([receiver]).cleansed(REGEX_CWES)
        stripped = self._line_break_replace(bare, method, receiver, positional, arg_nodes)
        if stripped is not None:
            return stripped
        if method and BOOL_METHOD.match(method) and receiver_node is not None:
            return self._fold_method(method, receiver, positional) or Value()

        # 3. helpers defined in this file
        fn = None
        if t not in ("new_expression", "object_creation_expression") and method:
            simple_receiver = receiver_node is None or self.text(receiver_node) in ("self", "this", "cls", "super") \
                or (receiver_node is not None and receiver_node.type in ("object_creation_expression",
                                                                         "new_expression")) \
                or (receiver_node is not None and receiver_node.type == "call"  # Python: Helper().method()
                    and (receiver_node.child_by_field_name("function") or receiver_node).type == "identifier"
                    and self.text(receiver_node.child_by_field_name("function"))[:1].isupper())
            if simple_receiver or (receiver is not None and not receiver.labels and receiver.kind == ""
                                   and receiver_node.type == "identifier"
                                   and receiver.items is None and receiver.keys is None
                                   and method not in CONTAINER_METHODS):
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
        if cfg.python_semantics and bare and bare.endswith("ConfigParser") and \
                re.search(r"(^|\.)(Raw|Safe)?ConfigParser$", bare):
            return Value.of_dict([])  # set(section, option, value) / get(section, option), keyed by both
        if bare in ("dict", "list", "make") and not positional:
            return Value.of_dict([]) if bare == "dict" else Value.of_list([])
        if bare in ("str", "String", "String.valueOf", "toString") and len(positional) == 1:
            p = positional[0]
            return Value(labels=p.labels, const=to_str(p.const) if p.const is not UNKNOWN else UNKNOWN)

        # 5. anything else passes its inputs' taint through; made from constants alone, it is no input
        inputs = list(all_args)
        if receiver is not None and receiver.kind != "request":
            base = self._path(receiver_node).split(".")[0] if receiver_node is not None else ""
            if receiver.labels or not base or base in env:  # a module or class name adds no data
                inputs.append(receiver)
        out = propagate(inputs)
        return out if inputs else Value()

    def _line_break_replace(self, bare: str, method: str, receiver: Value | None, args: list[Value],
                            arg_nodes: list) -> Value | None:
        """A replace that removes every CR (or every LF) from a value: ``v.replace("\\n", "")``,
        ``v.replace(/[\\r\\n]/g, "")``, ``re.sub(r"[\\r\\n]", "", v)``, ``strings.ReplaceAll(v, "\\r", "")``.
        The result carries the mark; once both are gone the value cannot break a header or log line
        (CWE-113, CWE-117, CWE-93). None when the call is not such a replace."""
        if bare in ("strings.ReplaceAll", "strings.Replace") and len(args) >= 3:
            if bare == "strings.Replace" and (len(args) < 4 or args[3].const != -1):
                return None
            data, old, new, regex = args[0], args[1].const, args[2].const, False
        elif bare in ("re.sub", "regex.sub") and len(args) == 3:
            data, old, new, regex = args[2], args[0].const, args[1].const, True
        elif method in ("replace", "replaceAll") and receiver is not None and len(args) == 2 and len(arg_nodes) == 2:
            data, old, new, regex = receiver, args[0].const, args[1].const, False
            if arg_nodes[0].type == "regex":  # JS: /[\\r\\n]/g replaces every match only with the g flag
                pattern = arg_nodes[0].child_by_field_name("pattern")
                flags = arg_nodes[0].child_by_field_name("flags")
                if pattern is None or flags is None or "g" not in self.text(flags):
                    return None
                old, regex = self.text(pattern), True
        else:
            return None
        removed = _line_breaks_removed(old, new, regex)
        if not removed or not data.labels:  # nothing to mark: the call is handled as any other
            return None
        out = set()
        for lb in data.labels:
            cleansed = lb.cleansed | removed
            if LINE_BREAKS <= cleansed:
                cleansed |= LINE_BREAK_CWES
            out.add(Label(lb.origin, cleansed))
        return Value(labels=frozenset(out))

    def _escapes_regex(self, pattern_node, replacement) -> bool:
        """JS's escape idiom ``v.replace(/[.*+?^${}()|[\\]\\\\]/g, "\\\\$&")``: every regex metacharacter gets
        a backslash, so the result matches only itself."""
        if pattern_node.type != "regex" or not isinstance(replacement, str) or not replacement.startswith("\\$&"):
            return False
        body, flags = pattern_node.child_by_field_name("pattern"), pattern_node.child_by_field_name("flags")
        if body is None or flags is None or "g" not in self.text(flags):
            return False
        text = self.text(body)
        return text.startswith("[") and all(ch in text for ch in ".*+?()[|\\")

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
        if method == "set" and len(args) == 3 and receiver.keys is not None:  # ConfigParser.set(section, option, v)
            k = _section_key(args[0].const, args[1].const)
            new = set_item(receiver, k, args[2]) if k is not UNKNOWN else receiver.join(Value(labels=args[2].labels))
            if name:
                env[name] = new
            return Value()
        if method in ("get", "getint", "getfloat", "getboolean") and len(args) >= 2 and receiver.keys is not None:
            k = _section_key(args[0].const, args[1].const)
            for stored, v in receiver.keys:
                if k is not UNKNOWN and stored == k:
                    return v if method == "get" else Value()
        if method in MUTATORS_PUT and len(args) >= 2:
            k = args[0].const
            new = set_item(receiver, k, args[1]) if receiver.keys is not None or not receiver.labels \
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


# Joins of a base folder and further path parts. A public function's caller that passes the base
# folder chooses where files go (writeKey(dir) → join(dir, "id_ed25519")): that is the function's
# purpose, not a traversal. Only the parts joined after it (a name) can climb out with `../`.
PATH_JOINS = frozenset({"path.join", "path.resolve", "os.path.join", "posixpath.join", "filepath.Join", "path.Join",
                        "Path", "PurePath", "Paths.get", "Path.of"})


def _caller_base_dir(base: Value) -> Value:
    """``base`` with its public-function-parameter labels sanitised for path traversal (CWE-22/23)."""
    labels = frozenset(Label(lb.origin, lb.cleansed | {22, 23}) if lb.origin.caller else lb for lb in base.labels)
    return Value(labels=labels, const=base.const, items=base.items, keys=base.keys, kind=base.kind, safe=base.safe)


QUOTE_ENTITIES = {"'": ("&apos;", "&#39;", "&#x27;"), '"': ("&quot;", "&#34;", "&#x22;")}
# marks on a label (not CWEs: negative) that every CR, every LF, has been replaced; both together clean it for
# the weaknesses a line break causes: header splitting, log forging, CRLF injection
NO_CR, NO_LF = -13, -10
LINE_BREAKS = frozenset({NO_CR, NO_LF})
LINE_BREAK_CWES = frozenset({113, 117, 93})
REGEX_CWES = frozenset({1333, 400})  # a regular expression built from the value matches only its text


def _line_breaks_removed(old, new, regex: bool) -> frozenset[int]:
    """Which of CR and LF a replace of ``old`` (a string, or a regex when ``regex``) by ``new`` removes."""
    if not isinstance(old, str) or not old or not isinstance(new, str) or "\r" in new or "\n" in new:
        return frozenset()
    if not regex:
        return frozenset({NO_CR} if old == "\r" else {NO_LF} if old == "\n" else ())
    try:
        rx = re.compile(old)
    except re.error:
        return frozenset()
    return frozenset(mark for mark, ch in ((NO_CR, "\r"), (NO_LF, "\n")) if rx.fullmatch(ch))


def _quote_escape(old, new) -> frozenset[int] | None:
    """A replace() that turns a quote into its XML entity leaves no quote to end an XPath string: the
    result is safe for XPath injection (CWE-643)."""
    if isinstance(old, str) and isinstance(new, str) and new in QUOTE_ENTITIES.get(old, ()):
        return frozenset({643})
    return None


def _section_key(section, option):
    """The key ConfigParser.set/get use for (section, option) in a dict-like value; UNKNOWN unless both are
    constants."""
    if isinstance(section, str) and isinstance(option, str):
        return f"{section}\x1f{option.lower()}"
    return UNKNOWN

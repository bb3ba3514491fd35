"""Expressions in the taint interpreter: the value of every expression node, recorded as it is evaluated.

A mixin of :class:`~qcn.indexer.security.taint.analysis.TaintAnalysis`, whose
``__init__`` owns all the state used here; calls are
:class:`~qcn.indexer.security.taint.calls.CallHandler`'s.
"""

from __future__ import annotations

import re

from qcn.indexer.security.taint.folding import binary, fold, number, truth_of, unescape
from qcn.indexer.security.taint.grammar import (
    CALL_TYPES, CONST_WORDS, DICT_TYPES, FUNCTION_TYPES, LIST_TYPES, MAX_DEPTH, MEMBER_TYPES, NUMBER_TYPES,
    STRING_TYPES, SUBSCRIPT_TYPES, VALUE_LOGICAL_OPS, subscript_parts,
)
from qcn.indexer.security.values import UNKNOWN, Value, propagate

# the path literal of a route decorator: @app.route("/docs/<p>"), @router.get('/items/{id}')
ROUTE_LITERAL = re.compile(r"""\.(?:route|get|post|put|patch|delete|api_route|websocket)\(\s*[rbu]?["']([^"']*)["']""")


def _raw_string(n, text) -> bool:
    """A Python raw string (r"..."), whose backslashes are literal."""
    start = n.child(0) if n.child_count else None
    return start is not None and start.type == "string_start" and "r" in text(start).lower()


class ExpressionEvaluator:
    """``_ev(node, env) -> Value`` and one ``_ev_<kind>`` per kind of expression."""

    def _ev(self, n, env) -> Value:
        if n is None:
            return Value()
        if self._depth >= MAX_DEPTH:  # the bound of grammar.bounded, inline on this hot path
            self._truncated += 1
            return Value()
        self._depth += 1
        try:
            v = self._ev_inner(n, env)
        finally:
            self._depth -= 1
        if self._recording:  # _record, inline on this hot path
            k = (n.start_byte, n.end_byte, n.kind_id)
            old = self.values.get(k)
            self.values[k] = v if old is None else old.join(v)
        return v

    def _ev_inner(self, n, env) -> Value:
        t = n.type
        if t in ("identifier", "this", "self"):
            return self._ev_identifier(n, env)
        if t in STRING_TYPES:
            return self._ev_string(n, env)
        if t in NUMBER_TYPES:
            return Value.constant(number(self.text(n)))
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
            truth = truth_of(self._ev(cond_node, env))
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

    def _ev_string(self, n, env) -> Value:
        t = n.type
        parts = []
        dynamic = []
        for c in n.named_children:
            ct = c.type
            if ct in ("string_content", "string_fragment", "interpreted_string_literal_content",
                      "raw_string_literal_content", "escape_sequence", "character", "multiline_string_fragment"):
                txt = self.text(c)
                if ct == "escape_sequence":
                    txt = unescape(txt)
                elif c.named_child_count and not _raw_string(n, self.text):
                    txt = self._with_escapes(c)  # Python: the escapes are children of string_content
                parts.append(txt)
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
                return Value.constant(unescape(inner) if inner.startswith("\\") else inner)
            if t == "raw_string_literal":
                return Value.constant(raw.strip("`"))
            return Value.constant("")
        return Value.constant("".join(parts))

    def _with_escapes(self, content) -> str:
        """The text of a string part with its escape_sequence children replaced by what they stand for."""
        out, at = [], content.start_byte
        for e in content.named_children:
            if e.type != "escape_sequence":
                continue
            out.append(self.data[at:e.start_byte].decode("utf-8", "replace"))
            out.append(unescape(self.text(e)))
            at = e.end_byte
        out.append(self.data[at:content.end_byte].decode("utf-8", "replace"))
        return "".join(out)

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
        if self.config.python_semantics and member in self.config.request_words \
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
        base_node, idx_node = subscript_parts(n)
        base = self._ev(base_node, env)
        idx = self._ev(idx_node, env) if idx_node is not None else Value()
        if idx_node is not None and idx_node.type == "slice":
            return Value(labels=base.labels, const=UNKNOWN)
        if base.labels and isinstance(idx.const, int) and not isinstance(idx.const, bool):
            fixed = self._route_segment(n, base_node, idx.const)
            if fixed is not None:
                return Value.constant(fixed)
        return base.get_item(idx.const)

    def _route_segment(self, n, base_node, i: int) -> str | None:
        """``request.path.split("/")[i]`` inside a handler routed at a fixed prefix (``@app.route("/docs/<p>")``)
        is that prefix's segment i: the router only calls the handler for paths that start with it."""
        if i < 0 or base_node.type != "call":
            return None
        fn_node = base_node.child_by_field_name("function")
        args = base_node.child_by_field_name("arguments")
        if fn_node is None or fn_node.type != "attribute" or args is None or len(args.named_children) != 1:
            return None
        method, obj = fn_node.child_by_field_name("attribute"), fn_node.child_by_field_name("object")
        if method is None or obj is None or self.text(method) != "split" or self.text(args.named_children[0]) not in (
                '"/"', "'/'") or not self.text(obj).endswith(".path"):
            return None
        p = n.parent
        while p is not None and p.type not in FUNCTION_TYPES:
            p = p.parent
        fn = self._function(p) if p is not None else None
        if fn is None or not fn.decorators:
            return None
        routes = ROUTE_LITERAL.findall(fn.decorators)
        if not routes:
            return None
        segments = set()
        for route in routes:
            parts = route.split("/")
            fixed = []
            for part in parts:
                if any(ch in part for ch in "<{:*"):
                    break
                fixed.append(part)
            if i >= len(fixed):
                return None
            segments.add(fixed[i])
        return segments.pop() if len(segments) == 1 else None

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
                return fold(op, vals[0].const, vals[1].const)
            return Value()
        if left is None or right is None:
            return propagate(self._ev(c, env) for c in kids)
        op = self.text(op_node) if op_node is not None else next(
            (self.text(c) for c in n.children if not c.is_named), "+")
        lv = self._ev(left, env)
        if op in VALUE_LOGICAL_OPS:
            operand = self.config.logical_returns_operand  # Python and JS return an operand, not a bool
            truth = truth_of(lv)
            if (op in ("or", "||") and truth is True) or (op in ("and", "&&") and truth is False) \
                    or (op == "??" and truth is not None and lv.const is not None):
                self._mark_dead(right)
                return lv if operand else Value.constant(bool(truth))
            rv = self._ev(right, env)
            if truth is not None:  # a constant left side that does not decide: the right side is the result
                rt = truth_of(rv)
                return rv if operand else (Value.constant(rt) if rt is not None else Value())
            return lv.join(rv) if operand else Value()
        rv = self._ev(right, env)
        return binary(op, lv, rv, self.config.python_semantics)

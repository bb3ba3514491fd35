"""Statements in the taint interpreter: bodies run in order over an environment name → Value.

Branches on constants run only the live side and remember the dead one (no
finding is reported inside it); loops run their body twice (so a value
assigned late in the body reaches its start once); assignments bind names,
members and items.

A mixin of :class:`~qcn.indexer.security.taint.analysis.TaintAnalysis`, whose
``__init__`` owns all the state used here.
"""

from __future__ import annotations

from qcn.indexer.security.taint.folding import Env, binary, element, merge_into, set_item, truth_of
from qcn.indexer.security.taint.grammar import (
    BLOCK_TYPES, CLASS_TYPES, FUNCTION_TYPES, MAX_DEPTH, MEMBER_TYPES, SKIPPED_STATEMENTS, SUBSCRIPT_TYPES, bounded,
    innermost_identifier, key, subscript_parts,
)
from qcn.indexer.security.taint.guards import always_exits, narrowings
from qcn.indexer.security.values import ALL, UNKNOWN, Value, join_all


class StatementExecutor:
    """``_exec(node, env)`` and one ``_st_<statement type>`` per statement that needs more than its children."""

    @bounded()
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
        if t in FUNCTION_TYPES or t in SKIPPED_STATEMENTS:
            return None
        handler = getattr(self, "_st_" + t, None)
        if handler is None and t not in BLOCK_TYPES:
            return self._ev(n, env)  # an expression statement (_ev bounds its own nesting)
        if self._depth >= MAX_DEPTH:  # the bound of grammar.bounded, inline on this hot path
            self._truncated += 1
            return None
        self._depth += 1
        try:
            if handler is not None:
                return handler(n, env)
            last = None
            for c in n.named_children:
                last = self._exec(c, env)
            return last
        finally:
            self._depth -= 1

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
        truth = truth_of(cond)
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
        proofs = narrowings(n.child_by_field_name("condition"), self.text, lambda c: self._is_fixed(c, env))
        env_a = Env(env)
        self._narrow(env_a, proofs, True)
        self._exec(cons, env_a)
        env_b = Env(env)
        self._narrow(env_b, proofs, False)
        if alts:
            self._exec_alternatives(alts, env_b)
        if not alts and proofs and always_exits(cons, self.text):
            env.update(env_b)  # the code after the if runs only when the condition was false
            return None
        merge_into(env, [env_a, env_b])
        return None

    def _st_match_statement(self, n, env):
        """Python match/case: each case is a branch; a capture pattern (``case other:``) binds the subject."""
        subject_node = n.child_by_field_name("subject")
        subject = self._ev(subject_node, env) if subject_node is not None else Value()
        body = n.child_by_field_name("body")
        cases = [c for c in (body.named_children if body is not None else ()) if c.type == "case_clause"]
        branches = []
        irrefutable = False
        for case in cases:
            branch = Env(env)
            pattern = next((c for c in case.named_children if c.type == "case_pattern"), None)
            inner = pattern.named_children if pattern is not None else []
            if pattern is not None and not inner:  # case _:
                irrefutable = True
            elif len(inner) == 1 and inner[0].type == "dotted_name" and len(inner[0].named_children) == 1:
                name = inner[0].named_children[0]
                self._bind(name, subject, branch)
                irrefutable = True
            guard = case.child_by_field_name("guard")
            if guard is not None:
                self._ev(guard, branch)
                irrefutable = False if len(cases) == 1 else irrefutable
            consequence = case.child_by_field_name("consequence")
            if consequence is not None:
                self._exec(consequence, branch)
            branches.append(branch)
        if not irrefutable:
            branches.append(Env(env))
        if branches:
            merge_into(env, branches)
        return None

    @staticmethod
    def _narrow(env, proofs, when: bool) -> None:
        for name, cwes, holds in proofs:
            if holds is when and name in env:
                env[name] = env[name].cleansed(cwes)

    def _is_fixed(self, node, env) -> bool:
        """An allow-list: a container (or name of one) built only from constants."""
        v = self._ev(node, env)
        return not v.labels and (v.is_const or ALL in v.safe) and (v.items is not None or v.keys is not None
                                                                   or node.type in ("identifier", "attribute",
                                                                                    "member_expression"))

    @bounded()
    def _exec_alternatives(self, alts, env):
        first, rest = alts[0], alts[1:]
        if first.type == "elif_clause":  # Python: elif chains are siblings
            cond = self._ev(first.child_by_field_name("condition"), env)
            truth = truth_of(cond)
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
                env_a, env_b = Env(env), Env(env)
                self._exec(cons, env_a)
                if rest:
                    self._exec_alternatives(rest, env_b)
                merge_into(env, [env_a, env_b])
        elif first.type == "else_clause" and first.child_by_field_name("body") is not None:
            self._exec(first.child_by_field_name("body"), env)
        else:
            self._exec(first, env)

    def _loop(self, n, env, bind=None):
        body = n.child_by_field_name("body")
        cond = n.child_by_field_name("condition")
        if cond is not None and n.type in ("while_statement",) and truth_of(self._ev(cond, env)) is False:
            self._mark_dead(body)
            return None
        if body is None:
            for c in n.named_children:
                self._exec(c, env)
            return None
        pre = Env(env)
        loop_env = Env(env)
        for _ in range(2):
            if bind is not None:
                bind(loop_env)
            self._exec(body, loop_env)
        alt = n.child_by_field_name("alternative")
        if alt is not None:
            self._exec(alt, loop_env)
        merge_into(env, [pre, loop_env])
        return None

    def _st_while_statement(self, n, env):
        return self._loop(n, env)

    def _st_do_statement(self, n, env):
        return self._loop(n, env)

    def _st_for_statement(self, n, env):
        left, right = n.child_by_field_name("left"), n.child_by_field_name("right")
        if left is not None and right is not None:  # Python for x in y
            it = self._ev(right, env)
            return self._loop(n, env, lambda e: self._bind(left, element(it), e))
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
        return self._loop(n, env, lambda e: left is not None and self._bind(left, element(it), e))

    def _st_enhanced_for_statement(self, n, env):
        it = self._ev(n.child_by_field_name("value"), env)
        name = n.child_by_field_name("name")
        return self._loop(n, env, lambda e: name is not None and self._bind(name, element(it), e))

    def _st_for_range_loop(self, n, env):  # C++ for (auto x : xs)
        it = self._ev(n.child_by_field_name("right"), env)
        decl = n.child_by_field_name("declarator")
        return self._loop(n, env, lambda e: decl is not None and self._bind(decl, element(it), e))

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
            e = Env(env)
            self._run_case_from(cases, i, e, dead_after=False)
            branches.append(e)
        if not any(c[0] is None for c in cases):
            branches.append(Env(env))
        merge_into(env, branches)
        return None

    def _run_case_from(self, cases, start, env, dead_after):
        i = start
        while i < len(cases):
            _, stmts, fall = cases[i]
            for s in stmts:
                if s.type != "break_statement":
                    self._exec(s, env)
                exit_ = _case_exit(s)  # ``break;``, ``{ …; break; }``, a return or goto: no fall-through
                if exit_ is not None:
                    if dead_after and exit_ == "break_statement":  # (a goto may still jump into a later case)
                        for _, later, _ in cases[i + 1:]:
                            for x in later:
                                self._mark_dead(x)
                    return
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
            ident = innermost_identifier(d)
            if ident is not None:
                env[self.text(ident)] = Value(type_name=type_text)

    def _st_lexical_declaration(self, n, env):
        for d in n.named_children:
            if d.type == "variable_declarator":
                self._declare(d, env)
        return None

    _st_variable_declaration = _st_lexical_declaration

    def _st_var_declaration(self, n, env):  # Go var x = ... and const x = ..., also grouped specs
        specs = [c for c in n.named_children if c.type in ("var_spec", "const_spec")]
        for c in n.named_children:
            if c.type == "var_spec_list":
                specs.extend(s for s in c.named_children if s.type == "var_spec")
        for spec in specs:
            names = spec.children_by_field_name("name")
            value = spec.child_by_field_name("value")
            vals = [self._ev(v, env) for v in value.named_children] if value is not None else []
            if spec.type == "const_spec" and not vals:  # repeats the previous spec's expression (iota)
                vals = [Value()]
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
            v = binary(op.rstrip("="), old, v, self.config.python_semantics)
        if left is not None:
            self._bind(left, v, env)
        return v

    @bounded()
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

    @bounded()
    def _store_item(self, target, v: Value, env) -> None:
        base, idx = subscript_parts(target)
        k = self._ev(idx, env).const if idx is not None else UNKNOWN
        old = self._ev(base, env) if base is not None else Value()
        new = set_item(old, k, v)
        if base is not None:
            if base.type in SUBSCRIPT_TYPES:
                self._store_item(base, new, env)
            else:
                self._bind(base, new, env)


_CASE_EXITS = frozenset({"break_statement", "return_statement", "goto_statement", "continue_statement",
                         "throw_statement"})


def _case_exit(stmt) -> str | None:
    """The statement type that keeps a switch case from falling through (break, return, goto, continue or
    throw), directly or as the last statement of a block; None when the case runs on. (C cases are often
    ``{ …; break; }``: read as falling through, every case ran on into all the cases after it, quadratic in
    a large switch such as SQLite's VDBE.)"""
    while stmt is not None:
        if stmt.type in _CASE_EXITS:
            return stmt.type
        if stmt.type not in ("compound_statement", "block", "statement_block"):
            return None
        body = [c for c in stmt.named_children if c.type != "comment"]
        stmt = body[-1] if body else None
    return None

"""Extraction is count-exact: every definition, import and reference, per language (golden values)."""

from __future__ import annotations

import pytest

from qcn.indexer.parse import analyze_source

SAMPLES = {
    'python': b'"""mod doc"""\nimport os.path as p, sys\nfrom ..pkg.mod import (a as b, c)\nfrom . import sib\nfrom x import *\n\nMAX = 10\n\n@decorator\nclass Foo(Base):\n    """Foo doc."""\n    def method(self, x):\n        # c\n        return helper(x)\n\n    async def am(self): pass\n\ndef helper(\n    a,\n    b,\n):\n    """help"""\n    def inner(): pass\n    return Foo()\n',
    'javascript': b"const fs = require('fs');\nconst {join, resolve: r} = require('path');\nimport def from './d.js';\n/** Adds. */\nexport function add(a, b) { return a + b; }\nclass K extends Base { /** m doc */ m() { return add(1, 2); } }\nexport const PI = 3.14;\nconst arrow = async () => { await import('./lazy'); };\n",
    'typescript': b"import D, {a as b} from './x';\nimport * as ns from '@app/y';\nexport {e} from './z';\nexport * from './all';\nimport x = require('./old');\n/** doc f */\nexport function f(a: number): string { return g(a) }\nexport const h = (x: T) => x;\nexport const LIMIT = 5;\nexport class C<T> extends B implements I { private y: number = 1; m(): void { this.z() } }\nexport interface I { n(): void; p: string }\nexport type U = A | B;\nexport enum E { A, B }\nnamespace NS { export const q = 1 }\ndeclare function df(x: number): void;\nabstract class AC { abstract am(): void }\nlet v = new C();\n",
    'go': b'package main\n\nimport (\n\tf "fmt"\n\t"example.com/m/pkg"\n\t. "dot"\n)\n\n// Server serves.\n// Second line.\ntype Server struct { addr string }\n\n// Handle handles.\nfunc (s *Server) Handle(x int) error { return pkg.Do(x) }\n\nfunc main() { f.Println(1) }\n\nvar V = 1\nconst K = 2\n',
    'rust': b'mod a;\nmod b { pub fn inner() {} }\nuse crate::x::{y, z as w};\nuse super::*;\nuse std::io;\nuse self::q::R;\n\n/// A point.\npub struct Point { x: i32 }\n\nimpl Point {\n    /// New point.\n    pub fn new() -> Self { Point { x: helper() } }\n}\n\npub fn helper() -> i32 { 1 }\nconst MAX: u32 = 3;\n',
    'java': b'package com.acme.app;\n\nimport com.acme.util.Strings;\nimport static com.acme.util.Math.max;\nimport com.acme.model.*;\n\n/** A widget. */\npublic class Widget extends Base implements Thing {\n    public static final int SIZE = 3;\n    /** Render it. */\n    public String render(int x) { return Strings.pad(x); }\n    enum Mode { A, B }\n}\n',
    'c': b'#include "util/strings.h"\n#include <stdio.h>\n#define MAX(a,b) ((a)>(b)?(a):(b))\n#define N 3\n\n/* A point. */\nstruct point { int x; };\ntypedef struct point point_t;\nenum color { RED, GREEN };\n\nstatic int *make(int n);\n\n/** Add. */\nint add(int a,\n        int b) {\n    return helper(a) + b;\n}\n',
    'cpp': b'#include "a.hpp"\nnamespace geo {\nclass Shape {\n public:\n  virtual double area() const;\n};\n}\ndouble geo::Shape::area() const { return 0; }\ntemplate<class T> T ident(T x) { return x; }\n',
}

# (kind, qualified name, first line, last line, header end, doc start, doc end)
DEFINITIONS = {
    'python': [
        ('constant', 'MAX', 7, 7, 7, 0, 0),
        ('class', 'Foo', 9, 16, 10, 11, 11),
        ('method', 'Foo.method', 12, 14, 12, 0, 0),  # the comment after the colon is body, not header
        ('method', 'Foo.am', 16, 16, 16, 0, 0),
        ('function', 'helper', 18, 24, 21, 22, 22),
        ('function', 'helper.inner', 23, 23, 23, 0, 0),
    ],
    'javascript': [
        ('function', 'add', 5, 5, 5, 4, 4),
        ('class', 'K', 6, 6, 6, 0, 0),
        ('method', 'K.m', 6, 6, 6, 0, 0),
        ('variable', 'PI', 7, 7, 7, 0, 0),
        ('function', 'arrow', 8, 8, 8, 0, 0),
    ],
    'typescript': [
        ('function', 'f', 7, 7, 7, 6, 6),
        ('function', 'h', 8, 8, 8, 0, 0),
        ('variable', 'LIMIT', 9, 9, 9, 0, 0),
        ('class', 'C', 10, 10, 10, 0, 0),
        ('field', 'C.y', 10, 10, 10, 0, 0),
        ('method', 'C.m', 10, 10, 10, 0, 0),
        ('interface', 'I', 11, 11, 11, 0, 0),
        ('method', 'I.n', 11, 11, 11, 0, 0),
        ('field', 'I.p', 11, 11, 11, 0, 0),
        ('type', 'U', 12, 12, 12, 0, 0),
        ('enum', 'E', 13, 13, 13, 0, 0),
        ('constant', 'E.A', 13, 13, 13, 0, 0),
        ('constant', 'E.B', 13, 13, 13, 0, 0),
        ('module', 'NS', 14, 14, 14, 0, 0),
        ('function', 'df', 15, 15, 15, 0, 0),
        ('class', 'AC', 16, 16, 16, 0, 0),
        ('method', 'AC.am', 16, 16, 16, 0, 0),
        ('variable', 'v', 17, 17, 17, 0, 0),
    ],
    'go': [
        ('type', 'Server', 11, 11, 11, 9, 10),
        ('field', 'Server.addr', 11, 11, 11, 0, 0),
        ('method', 'Server.Handle', 14, 14, 14, 13, 13),
        ('function', 'main', 16, 16, 16, 0, 0),
        ('variable', 'V', 18, 18, 18, 0, 0),
        ('constant', 'K', 19, 19, 19, 0, 0),
    ],
    'rust': [
        ('module', 'a', 1, 1, 1, 0, 0),
        ('module', 'b', 2, 2, 2, 0, 0),
        ('function', 'b.inner', 2, 2, 2, 0, 0),
        ('class', 'Point', 9, 9, 9, 8, 8),
        ('field', 'Point.x', 9, 9, 9, 0, 0),
        ('method', 'Point.new', 13, 13, 13, 12, 12),
        ('function', 'helper', 16, 16, 16, 0, 0),
        ('constant', 'MAX', 17, 17, 17, 0, 0),
    ],
    'java': [
        ('class', 'Widget', 8, 13, 8, 7, 7),
        ('field', 'Widget.SIZE', 9, 9, 9, 0, 0),
        ('method', 'Widget.render', 11, 11, 11, 10, 10),
        ('enum', 'Widget.Mode', 12, 12, 12, 0, 0),
        ('constant', 'Widget.Mode.A', 12, 12, 12, 0, 0),
        ('constant', 'Widget.Mode.B', 12, 12, 12, 0, 0),
    ],
    'c': [
        ('macro', 'MAX', 3, 3, 3, 0, 0),
        ('macro', 'N', 4, 4, 4, 0, 0),
        ('class', 'point', 7, 7, 7, 6, 6),
        ('field', 'point.x', 7, 7, 7, 0, 0),
        ('type', 'point_t', 8, 8, 8, 0, 0),
        ('type', 'color', 9, 9, 9, 0, 0),
        ('constant', 'color.RED', 9, 9, 9, 0, 0),
        ('constant', 'color.GREEN', 9, 9, 9, 0, 0),
        ('function', 'make', 11, 11, 11, 0, 0),
        ('function', 'add', 14, 17, 15, 13, 13),
    ],
    'cpp': [
        ('class', 'geo.Shape', 3, 6, 3, 0, 0),
        ('method', 'geo.Shape.area', 5, 5, 5, 0, 0),
        ('method', 'geo.Shape.area', 8, 8, 8, 0, 0),
        ('function', 'ident', 9, 9, 9, 0, 0),
    ],
}

# (module, names, alias, line, kind)
IMPORTS = {
    'python': [
        ('os.path', (), 'p', 2, 'import'),
        ('sys', (), 'sys', 2, 'import'),
        ('..pkg.mod', (('a', 'b'), ('c', 'c')), '', 3, 'from'),
        ('.', (('sib', 'sib'),), '', 4, 'from'),
        ('x', (('*', '*'),), '', 5, 'from'),
    ],
    'javascript': [
        ('fs', (), 'fs', 1, 'require'),
        ('path', (('join', 'join'), ('resolve', 'r')), '', 2, 'require'),
        ('./d.js', (('default', 'def'),), '', 3, 'import'),
        ('./lazy', (), '', 8, 'import'),
    ],
    'typescript': [
        ('./x', (('default', 'D'), ('a', 'b')), '', 1, 'import'),
        ('@app/y', (), 'ns', 2, 'import'),
        ('./z', (('e', 'e'),), '', 3, 'reexport'),
        ('./all', (('*', '*'),), '', 4, 'reexport'),
        ('./old', (), 'x', 5, 'import'),
    ],
    'go': [
        ('fmt', (), 'f', 4, 'import'),
        ('example.com/m/pkg', (), 'pkg', 5, 'import'),
        ('dot', (('*', '*'),), '', 6, 'import'),
    ],
    'rust': [
        ('a', (), 'a', 1, 'mod'),
        ('crate::x', (('y', 'y'),), '', 3, 'use'),
        ('crate::x', (('z', 'w'),), '', 3, 'use'),
        ('super', (('*', '*'),), '', 4, 'use'),
        ('std', (('io', 'io'),), '', 5, 'use'),
        ('self::q', (('R', 'R'),), '', 6, 'use'),
    ],
    'java': [
        ('com.acme.util.Strings', (('Strings', 'Strings'),), '', 3, 'import'),
        ('com.acme.util.Math', (('max', 'max'),), '', 4, 'static'),
        ('com.acme.model', (('*', '*'),), '', 5, 'import'),
    ],
    'c': [
        ('util/strings.h', (), '', 1, 'include'),
        ('stdio.h', (), '', 2, 'system_include'),
    ],
    'cpp': [
        ('a.hpp', (), '', 1, 'include'),
    ],
}

REFERENCES = {  # (name, occurrences): a name captured by two patterns counts once
    'python': (('Base', 1), ('Foo', 1), ('helper', 1)),
    'javascript': (('Base', 1), ('add', 1)),
    'typescript': (('A', 1), ('AC', 1), ('B', 2), ('C', 2), ('I', 2), ('T', 2), ('U', 1), ('g', 1), ('z', 1)),
    'go': (('Do', 1), ('Println', 1), ('Server', 2), ('error', 1), ('int', 1), ('string', 1)),
    'rust': (('Point', 3), ('R', 1), ('Self', 1), ('helper', 1), ('io', 1), ('q', 1), ('x', 1)),
    'java': (('Base', 1), ('String', 1), ('Thing', 1), ('pad', 1)),
    'c': (('color', 1), ('helper', 1), ('point', 2), ('point_t', 1)),
    'cpp': (('Shape', 1), ('T', 3)),
}


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_definitions(language):
    symbols = analyze_source(language, SAMPLES[language])
    got = [(d.kind, d.qualname, d.start_line, d.end_line, d.sig_end_line, d.doc_start, d.doc_end)
           for d in symbols.definitions]
    assert got == DEFINITIONS[language]


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_imports(language):
    symbols = analyze_source(language, SAMPLES[language])
    assert [(i.module, i.names, i.alias, i.line, i.kind) for i in symbols.imports] == IMPORTS[language]


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_references(language):
    assert analyze_source(language, SAMPLES[language]).references == REFERENCES[language]


def test_signatures_are_one_line_headers():
    symbols = analyze_source("python", SAMPLES["python"])
    assert {d.qualname: d.signature for d in symbols.definitions}["helper"] == "def helper( a, b, ):"
    go = {d.qualname: d.signature for d in analyze_source("go", SAMPLES["go"]).definitions}
    assert go["Server.Handle"] == "func (s *Server) Handle(x int) error"
    assert go["Server"] == "type Server"


def test_tsx_uses_the_typescript_query():
    source = b"import { Money } from './money';\nexport function Total(p: { m: Money }) { return <b>{p.m.cents}</b>; }\n"
    symbols = analyze_source("tsx", source)
    assert [(d.kind, d.name) for d in symbols.definitions] == [("function", "Total")]
    assert [i.module for i in symbols.imports] == ["./money"]


def test_round_trip_through_the_cache_format():
    from qcn.indexer.symbols import FileSymbols

    for language, source in SAMPLES.items():
        symbols = analyze_source(language, source)
        assert FileSymbols.from_tuple(symbols.to_tuple()) == symbols


def test_broken_source_still_yields_what_parses():
    symbols = analyze_source("python", b"def ok():\n    pass\n\ndef broken(:\n    x = \n\nclass Fine:\n    pass\n")
    names = [d.name for d in symbols.definitions]
    assert "ok" in names and "Fine" in names


def _defs(language, source):
    return [(d.kind, d.qualname, d.start_line) for d in analyze_source(language, source).definitions]


def test_python_names_bound_in_module_level_blocks():
    source = (b"from typing import TYPE_CHECKING\n"
              b"if TYPE_CHECKING:\n    Alias = int\nelif OTHER:\n    Alias = bytes\nelse:\n    Alias = str\n"
              b"try:\n    fast = load()\nexcept ImportError:\n    fast = None\n\n    def shim():\n        pass\n"
              b"def f():\n    if x:\n        inner = 1\n")
    assert _defs("python", source) == [
        ("constant", "Alias", 3), ("constant", "Alias", 5), ("constant", "Alias", 7),
        ("constant", "fast", 9), ("constant", "fast", 11), ("function", "shim", 13), ("function", "f", 15),
    ]  # `inner` is a local of f, not a module name


def test_python_class_attributes_and_fields():
    source = (b"@dataclass\nclass Point:\n    \"\"\"doc\"\"\"\n    x: int\n    y: int = 0\n    ORIGIN = None\n"
              b"    def norm(self):\n        z = 1\n")
    assert _defs("python", source) == [
        ("class", "Point", 1), ("field", "Point.x", 4), ("field", "Point.y", 5), ("field", "Point.ORIGIN", 6),
        ("method", "Point.norm", 7),
    ]


@pytest.mark.parametrize("language", ["javascript", "typescript"])
def test_top_level_variables_with_any_initialiser(language):
    source = (b"const a = null;\nlet b = undefined;\nconst c = (1 << 3) | 2;\nconst d = /re/g;\n"
              b"const e = ({ k: 1 });\nlet f;\nvar g = cond ? 1 : 2;\nconst lib = require('./lib');\n"
              b"export const h = make();\nexport default a;\n")
    assert _defs(language, source) == [
        ("variable", "a", 1), ("variable", "b", 2), ("variable", "c", 3), ("variable", "d", 4),
        ("variable", "e", 5), ("variable", "f", 6), ("variable", "g", 7), ("variable", "h", 9),
        ("variable", "default", 10),
    ]  # `lib` is an import binding, not a definition


def test_typescript_non_null_type_members_and_enum_members():
    source = (b"const el = find()!;\ntype Options = { retries: number; log(msg: string): void };\n"
              b"enum Level { Low, High = 2 }\nfunction f(p: { inline: number }) {}\n")
    assert _defs("typescript", source) == [
        ("variable", "el", 1), ("type", "Options", 2), ("field", "Options.retries", 2), ("method", "Options.log", 2),
        ("enum", "Level", 3), ("constant", "Level.Low", 3), ("constant", "Level.High", 3), ("function", "f", 4),
    ]  # a parameter's inline object type declares nothing


def test_javascript_class_fields():
    assert _defs("javascript", b"class Queue {\n  size = 0;\n  static max;\n  push(x) {}\n}\n") == [
        ("class", "Queue", 1), ("field", "Queue.size", 2), ("field", "Queue.max", 3), ("method", "Queue.push", 4),
    ]


def test_go_struct_fields_and_interface_methods():
    source = b"package p\n\ntype T struct {\n\tA, B int\n\tc *X\n}\n\ntype I interface {\n\tM(x int) error\n}\n\nconst a, b = 1, 2\n"
    assert _defs("go", source) == [
        ("type", "T", 3), ("field", "T.A", 4), ("field", "T.B", 4), ("field", "T.c", 5),
        ("type", "I", 8), ("method", "I.M", 9), ("constant", "a", 12), ("constant", "b", 12),
    ]


def test_rust_struct_fields_and_enum_variants():
    source = b"pub struct S {\n    pub a: u8,\n    b: String,\n}\nenum E {\n    A,\n    B(u8),\n}\n"
    assert _defs("rust", source) == [
        ("class", "S", 1), ("field", "S.a", 2), ("field", "S.b", 3),
        ("class", "E", 5), ("constant", "E.A", 6), ("constant", "E.B", 7),
    ]


def test_rust_impl_members_of_generic_and_path_types_belong_to_the_type():
    """`impl<'a> Printer<'a>` and `impl<'a> From<u8> for io::Input<'a>`: the members are `Printer.new` and
    `Input.from`, so the type's outline and `Printer::new` lookups find them."""
    source = (b"pub struct Printer<'a> {\n    name: &'a str,\n}\n"
              b"impl<'a> Printer<'a> {\n    pub fn new() -> Self { todo!() }\n}\n"
              b"impl<'a> From<u8> for io::Input<'a> {\n    fn from(x: u8) -> Self { todo!() }\n}\n")
    assert _defs("rust", source) == [
        ("class", "Printer", 1), ("field", "Printer.name", 2), ("method", "Printer.new", 5),
        ("method", "Input.from", 8),
    ]


def test_java_fields_constants_and_enum_constants():
    source = b"class C {\n  int x;\n  static final int K = 1;\n  enum Mode { ON, OFF }\n}\n"
    assert _defs("java", source) == [
        ("class", "C", 1), ("field", "C.x", 2), ("field", "C.K", 3),
        ("enum", "C.Mode", 4), ("constant", "C.Mode.ON", 4), ("constant", "C.Mode.OFF", 4),
    ]


@pytest.mark.parametrize("language", ["c", "cpp"])
def test_c_struct_fields(language):
    source = b"struct buf {\n  int len;\n  char *data;\n  int tags[4];\n};\n"
    assert _defs(language, source) == [
        ("class", "buf", 1), ("field", "buf.len", 2), ("field", "buf.data", 3), ("field", "buf.tags", 4),
    ]


def test_named_definitions_are_every_definition_of_that_name_in_file_order():
    from qcn.indexer.symbols import FileSymbols

    source = (b"class Cart:\n    def total(self):\n        return 0\n\n"
              b"class Order:\n    def total(self):\n        return 1\n\n"
              b"def total(items):\n    return sum(items)\n")
    symbols = analyze_source("python", source)
    expected = [d for d in symbols.definitions if d.name == "total"]
    assert [d.qualname for d in expected] == ["Cart.total", "Order.total", "total"]
    assert list(symbols.named("total")) == expected
    assert symbols.named("missing") == ()
    # a warm start's symbols (raw tuples from the cache) answer the same
    cached = FileSymbols.from_tuple(symbols.to_tuple())
    assert list(cached.named("total")) == expected and [d.name for d in cached.named("Cart")] == ["Cart"]
    # only the names asked for became definitions: the file's others are still raw tuples
    assert cached._definitions is None
    assert list(cached.definitions) == list(symbols.definitions)
    assert list(cached.named("total")) == expected


def test_named_on_a_real_cached_file_builds_only_the_names_asked_for():
    import sysconfig
    from pathlib import Path

    from qcn.indexer.symbols import Definition, FileSymbols

    source = (Path(sysconfig.get_paths()["stdlib"]) / "argparse.py").read_bytes()
    symbols = analyze_source("python", source)
    cached = FileSymbols.from_tuple(symbols.to_tuple())
    found = cached.named("ArgumentParser")
    assert [d.qualname for d in found] == ["ArgumentParser"] and type(found[0]) is Definition
    frozen = [v for v in cached._by_name.values() if type(v) is tuple]
    assert len(frozen) == 1 and len(cached._by_name) > 100  # the other names are not built
    assert found == symbols.named("ArgumentParser") and cached.named("ArgumentParser") is found

"""context_for spends the budget on evidence: receivers' types, fields, re-exports, names in strings.

Each test writes a small real repository, builds a real index and asks for the
context at a cursor; a decoy definition of the same name elsewhere checks that
the evidence (not a guess by name) picked the definition.
"""

from __future__ import annotations

import textwrap

from qcn.indexer import Index, Position


def _repo(tmp_path, files: dict[str, str]) -> Index:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    index = Index(tmp_path, use_cache=False)
    index.build()
    return index


def _at(index: Index, rel: str, needle: str) -> Position:
    """The position just after the first ``needle`` in ``rel``."""
    text = (index.root / rel).read_text()
    end = text.index(needle) + len(needle)
    line = text.count("\n", 0, end)
    return Position(line, end - (text.rfind("\n", 0, end) + 1))


def _line_of(index: Index, rel: str, line_text: str) -> int:
    """The 0-based number of the line of ``rel`` that reads ``line_text``."""
    return (index.root / rel).read_text().split("\n").index(line_text)


def _shows(snippets, path: str, line_text: str) -> bool:
    return any(s.path == path and line_text in s.text.split("\n") for s in snippets)


def _paths(snippets) -> list[str]:
    return [s.path for s in snippets]


def test_self_member_comes_from_the_class_bases_not_from_a_namesake(tmp_path):
    index = _repo(tmp_path, {
        "app/__init__.py": "",
        "app/base.py": """
            class Service:
                def connect(self, retries: int) -> None:
                    self.retries = retries
            """,
        "app/socket.py": """
            class Socket:
                def connect(self, host: str) -> None:
                    pass
            """,
        "app/worker.py": """
            from .base import Service


            class Worker(Service):
                def run(self):
                    self.connect(3)
            """,
    })
    with index:
        snippets = index.context_for("app/worker.py", _at(index, "app/worker.py", "self.connect"), 2048)
        assert _shows(snippets, "app/base.py", "    def connect(self, retries: int) -> None:"), _paths(snippets)
        assert "app/socket.py" not in _paths(snippets)
        best = next(s for s in snippets if s.path == "app/base.py")
        assert "`self` is a `Worker`" in best.reason


def test_annotated_parameter_gives_the_receiver_type(tmp_path):
    index = _repo(tmp_path, {
        "src/http.ts": """
            export class Request {
              header(name: string): string { return name; }
            }
            """,
        "src/mail.ts": """
            export class Message {
              header(name: string): string { return ""; }
            }
            """,
        "src/handler.ts": """
            import { Request } from "./http";

            export function handle(req: Request) {
              return req.header("accept");
            }
            """,
    })
    with index:
        snippets = index.context_for("src/handler.ts", _at(index, "src/handler.ts", "req.header"), 2048)
        assert _shows(snippets, "src/http.ts", "  header(name: string): string { return name; }"), _paths(snippets)
        assert "src/mail.ts" not in _paths(snippets)


def test_go_constructor_gives_the_receiver_type(tmp_path):
    index = _repo(tmp_path, {
        "go.mod": "module example.com/shop\n\ngo 1.22\n",
        "client/client.go": """
            package client

            type Client struct {
            \tRetries int
            }

            func NewClient() *Client { return &Client{} }

            func (c *Client) Do(path string) error { return nil }
            """,
        "server/server.go": """
            package server

            type Pool struct{}

            func (p *Pool) Do(path string) error { return nil }
            """,
        "main.go": """
            package main

            import "example.com/shop/client"

            func main() {
            \tc := client.NewClient()
            \tc.Do("/")
            }
            """,
    })
    with index:
        snippets = index.context_for("main.go", _at(index, "main.go", "c.Do"), 2048)
        assert _shows(snippets, "client/client.go", "func (c *Client) Do(path string) error { return nil }"), \
            _paths(snippets)
        assert "server/server.go" not in _paths(snippets)


def test_common_method_on_a_receiver_of_unknown_type_is_not_guessed(tmp_path):
    index = _repo(tmp_path, {
        "registry.py": """
            class Registry:
                def get(self, key):
                    return key
            """,
        "app.py": """
            def lookup(data, key):
                return data.get(key)
            """,
    })
    with index:
        snippets = index.context_for("app.py", _at(index, "app.py", "data.get"), 2048)
        assert "registry.py" not in _paths(snippets)


def test_huge_class_degrades_to_header_fields_and_signatures(tmp_path):
    fields = "".join(f"    field_{i}: int = {i}\n" for i in range(30))
    methods = "".join(
        f"    def method_{i}(\n" + "".join(f"        arg_{j}: int = {j},\n" for j in range(8)) + "    ) -> int:\n"
        + "".join(f"        value += {j}\n" for j in range(40)) + "        return value\n\n" for i in range(30))
    index = _repo(tmp_path, {
        "models.py": "from dataclasses import dataclass\n\n\n@dataclass\nclass Settings:\n" + fields + "\n" + methods
                     + "\ndef load() -> Settings:\n    return Settings()\n",
        "app.py": """
            from models import Settings, load

            settings: Settings = load()
            print(settings)
            """,
    })
    with index:
        snippets = index.context_for("app.py", _at(index, "app.py", "print(settings"), 900)
        models = next(s for s in snippets if s.path == "models.py")
        lines = models.text.split("\n")
        assert "class Settings:" in lines
        assert all(f"    field_{i}: int = {i}" in lines for i in range(30)), "fields are never elided"
        assert "        value += 3" not in lines, "method bodies go first"
        assert "def load() -> Settings:" in lines, "the class did not block the file's other definitions"


def test_field_of_an_annotated_receiver_is_shown(tmp_path):
    index = _repo(tmp_path, {
        "config.py": """
            from dataclasses import dataclass


            @dataclass
            class Config:
                timeout: float = 1.0
                retries: int = 3
            """,
        "client.py": """
            from config import Config


            def call(cfg: Config):
                return cfg.timeout
            """,
    })
    with index:
        snippets = index.context_for("client.py", _at(index, "client.py", "cfg.timeout"), 1024)
        assert _shows(snippets, "config.py", "    timeout: float = 1.0"), _paths(snippets)


def test_type_checking_alias_resolves(tmp_path):
    index = _repo(tmp_path, {
        "compat.py": """
            from typing import TYPE_CHECKING

            if TYPE_CHECKING:
                JSONValue = dict[str, object]
            else:
                JSONValue = dict
            """,
        "api.py": """
            from compat import JSONValue


            def parse(text) -> JSONValue:
                return JSONValue()
            """,
    })
    with index:
        snippets = index.context_for("api.py", _at(index, "api.py", "return JSONValue"), 1024)
        assert _shows(snippets, "compat.py", "    JSONValue = dict[str, object]"), _paths(snippets)
        assert _shows(snippets, "compat.py", "    JSONValue = dict")


def test_reexporting_package_outline_shows_the_real_signatures(tmp_path):
    index = _repo(tmp_path, {
        "engine/__init__.py": """
            from .core import Engine, start
            from .util import helper

            __all__ = ["Engine", "start", "helper"]
            """,
        "engine/core.py": """
            class Engine:
                def run(self, steps: int) -> None:
                    pass


            def start(engine: Engine, *, fast: bool = False) -> Engine:
                return engine
            """,
        "engine/util.py": """
            def helper(x):
                return x
            """,
        "main.py": """
            import engine


            def main():
                pass
            """,
    })
    with index:
        snippets = index.context_for("main.py", _at(index, "main.py", "    pass"), 2048)
        core = [s for s in snippets if s.path == "engine/core.py"]
        assert core and core[0].source == "outline", _paths(snippets)
        assert "def start(engine: Engine, *, fast: bool = False) -> Engine:" in core[0].text.split("\n")
        assert "re-exported" in core[0].reason


def test_names_in_string_annotations_and_fstrings_are_uses(tmp_path):
    index = _repo(tmp_path, {
        "console.py": """
            class Console:
                width: int = 80


            def render(value) -> str:
                return str(value)
            """,
        "report.py": "from __future__ import annotations\n\nfrom console import Console, render\n"
                     + "".join(f"\n\ndef filler_{i}():\n    return {i}\n" for i in range(15))
                     + '\n\ndef show(out: "Console", value):\n    line = f"{render(value)}!"\n    return line\n',
    })
    with index:
        snippets = index.context_for("report.py", _at(index, "report.py", "return line"), 1024)
        console = next(s for s in snippets if s.path == "console.py")
        assert console.source == "definition"
        assert "class Console:" in console.text.split("\n") and "def render(value) -> str:" in console.text.split("\n")
        assert "definition of `Console`" in console.reason and "definition of `render`" in console.reason


def test_javascript_constants_with_any_initialiser_resolve(tmp_path):
    index = _repo(tmp_path, {
        "src/flags.js": """
            export const NONE = null;
            export const MASK = (1 << 4) | 1;
            export const PATTERN = /^v\\d+$/;
            """,
        "src/app.js": """
            import { NONE, MASK, PATTERN } from "./flags.js";

            export function check(v) {
              return PATTERN.test(v) && (v & MASK) !== NONE;
            }
            """,
    })
    with index:
        snippets = index.context_for("src/app.js", _at(index, "src/app.js", "!== NONE"), 1024)
        for line in ("export const NONE = null;", "export const MASK = (1 << 4) | 1;"):
            assert _shows(snippets, "src/flags.js", line), _paths(snippets)


def test_rust_use_of_a_workspace_crate_through_pub_use(tmp_path):
    index = _repo(tmp_path, {
        "Cargo.toml": '[workspace]\nmembers = ["core", "app"]\n',
        "core/Cargo.toml": '[package]\nname = "shop-core"\nversion = "0.1.0"\n',
        "core/src/lib.rs": "pub mod money;\npub use crate::money::Money;\n",
        "core/src/money.rs": """
            pub struct Money {
                pub cents: i64,
            }
            """,
        "app/Cargo.toml": '[package]\nname = "app"\nversion = "0.1.0"\n',
        "app/src/main.rs": """
            use shop_core::Money;

            fn main() {
                let m = Money { cents: 1 };
                println!("{}", m.cents);
            }
            """,
    })
    with index:
        snippets = index.context_for("app/src/main.rs", _at(index, "app/src/main.rs", "m.cents"), 1024)
        assert _shows(snippets, "core/src/money.rs", "pub struct Money {"), _paths(snippets)
        assert _shows(snippets, "core/src/money.rs", "    pub cents: i64,")


def test_among_the_imports_a_used_name_no_import_binds_is_offered(tmp_path):
    index = _repo(tmp_path, {
        "shop/__init__.py": "",
        "shop/money.py": """
            class Money:
                def __init__(self, cents: int) -> None:
                    self.cents = cents
            """,
        "shop/tax.py": """
            def vat(amount):
                return amount
            """,
        "shop/cart.py": "from .tax import vat\n"
                        + "".join(f"\n\ndef helper_{i}(x):\n    return vat(x)\n" for i in range(8))
                        + "\n\ndef total(items) -> Money:\n    return Money(sum(vat(i) for i in items))\n",
    })
    with index:
        # The cursor on the line after the imports: `Money` is used far below, imported by no line yet.
        snippets = index.context_for("shop/cart.py", Position(1, 0), 1024)
        money = next(s for s in snippets if s.path == "shop/money.py")
        assert "class Money:" in money.text.split("\n")
        assert "imported by no line: `Money`" in money.reason


def test_go_receiver_outline_lists_methods_written_outside_the_struct(tmp_path):
    # The removed line calls a method the file never used before: the receiver's type outline must list
    # the methods of the struct's file, which Go writes outside the struct's braces.
    index = _repo(tmp_path, {
        "go.mod": "module example.com/cli\n\ngo 1.22\n",
        "cobra/command.go": "package cobra\n\ntype Command struct {\n\tUse string\n}\n\n"
                            + "".join(f"func (c *Command) Helper{i}() int {{\n\treturn {i}\n}}\n\n" for i in range(45))
                            + "func (c *Command) UseLine() string {\n\treturn c.Use\n}\n",
        # (lines unlike command.go's before the cursor: no similar-code window of it is chosen)
        "doc/doc.go": "package doc\n\nimport \"example.com/cli/cobra\"\n\nfunc Gen(cmd *cobra.Command) string {\n"
                      + "".join(f"\tv{i} := {i}\n" for i in range(14)) + "\tname := cmd.Use\n\treturn name\n}\n",
    })
    with index:
        snippets = index.context_for("doc/doc.go", _at(index, "doc/doc.go", "name := cmd.Use"), 4096)
        assert _shows(snippets, "cobra/command.go", "func (c *Command) UseLine() string {"), _paths(snippets)
        assert _shows(snippets, "cobra/command.go", "\tUse string")


def test_rust_receiver_outline_lists_impl_block_methods(tmp_path):
    index = _repo(tmp_path, {
        "Cargo.toml": '[package]\nname = "bat"\nversion = "0.1.0"\n',
        "src/lib.rs": "pub mod printer;\n",
        "src/printer.rs": """
            pub struct Printer {
                pub width: usize,
            }

            impl Printer {
                pub fn print_header(&self) -> usize {
                    self.width
                }
            """ + "".join(f"""
                pub fn helper_{i}(&self) -> usize {{
                    {i}
                }}
            """ for i in range(45)) + """

                pub fn print_footer(&self, last: bool) -> usize {
                    if last { 0 } else { self.width }
                }
            }
            """,
        "src/main.rs": """
            use crate::printer::Printer;

            fn run(printer: &Printer) -> usize {
                let w = printer.print_header();
                w
            }
            """,
    })
    with index:
        snippets = index.context_for("src/main.rs", _at(index, "src/main.rs", "let w = printer.print_header();"),
                                     4096)
        assert _shows(snippets, "src/printer.rs", "    pub fn print_footer(&self, last: bool) -> usize {"), \
            _paths(snippets)


def test_go_bare_name_in_the_package_is_a_top_level_definition_not_a_field(tmp_path):
    index = _repo(tmp_path, {
        "go.mod": "module example.com/mux\n\ngo 1.22\n",
        "conf.go": "package mux\n\ntype routeConf struct {\n\tskipClean bool\n\tregexp routeRegexpGroup\n}\n",
        "regexp.go": "package mux\n\ntype routeRegexpGroup struct{}\n\nfunc regexp(tpl string) bool {\n\treturn true\n}\n",
        "route.go": """
            package mux

            func match(tpl string) bool {
            \tok := regexp(tpl)
            \treturn ok
            }
            """,
    })
    with index:
        snippets = index.context_for("route.go", _at(index, "route.go", "ok := regexp(tpl)"), 4096)
        assert _shows(snippets, "regexp.go", "func regexp(tpl string) bool {"), _paths(snippets)
        conf = [s for s in snippets if s.path == "conf.go"]
        assert not any("`regexp` (in the same package)" in s.reason for s in conf), [s.reason for s in conf]


def test_go_package_outline_offers_a_function_the_file_never_used(tmp_path):
    index = _repo(tmp_path, {
        "go.mod": "module example.com/cli\n\ngo 1.22\n",
        "help.go": "package cli\n\nfunc checkVersion(v string) bool {\n\treturn v != \"\"\n}\n",
        "help_test.go": "package cli\n\nfunc checkVersionTest(v string) bool {\n\treturn true\n}\n",
        "app.go": """
            package cli

            func Run(v string) {
            \tif v == "" {
            \t\treturn
            \t}
            }
            """,
    })
    with index:
        snippets = index.context_for("app.go", _at(index, "app.go", "\t\treturn\n\t}"), 4096)
        assert _shows(snippets, "help.go", "func checkVersion(v string) bool {"), _paths(snippets)
        assert "help_test.go" not in _paths(snippets)  # _test.go files build apart from the package


def test_by_name_guesses_skip_test_files(tmp_path):
    index = _repo(tmp_path, {
        "lib/render.py": "def render_all(items):\n    return items\n",
        "tests/test_render.py": "def make_widget():\n    return 1\n",
        "lib/widget.py": "def make_widget():\n    return 2\n",
        "lib/app.py": "def main(items):\n    w = make_widget()\n    return render_all(w)\n",
    })
    with index:
        snippets = index.context_for("lib/app.py", _at(index, "lib/app.py", "w = make_widget("), 4096)
        assert _shows(snippets, "lib/widget.py", "def make_widget():"), _paths(snippets)
        assert "tests/test_render.py" not in _paths(snippets)


def test_among_the_imports_a_name_only_a_string_annotation_uses_is_offered(tmp_path):
    index = _repo(tmp_path, {
        "rich/__init__.py": "",
        "rich/console.py": "class ConsoleOptions:\n    width: int = 80\n",
        "rich/spinner.py": """
            from typing import TYPE_CHECKING

            if TYPE_CHECKING:
                pass


            class Spinner:
                def render(self, options: "ConsoleOptions") -> int:
                    return options.width
            """,
    })
    with index:
        snippets = index.context_for("rich/spinner.py", _at(index, "rich/spinner.py", "if TYPE_CHECKING:\n"), 1024)
        console = next(s for s in snippets if s.path == "rich/console.py")
        assert "class ConsoleOptions:" in console.text.split("\n")
        assert "imported by no line: `ConsoleOptions`" in console.reason


def test_import_outline_shows_the_names_this_file_uses_before_the_rest(tmp_path):
    # Budget for one of: the rest of types.py's outline, or the definition of a name the file uses.
    others = "".join(f"def unused_helper_{i}(a, b, c, d):\n    return a\n\n\n" for i in range(30))
    body = "".join(f"    step_{i} = value + {i}\n" for i in range(25))
    index = _repo(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/types.py": others + "def wanted_one(x):\n    return x\n",
        "pkg/big.py": f"def big_thing(value):\n{body}    return value\n",
        # Both names used far from the cursor: what the file uses, not what the cursor's lines use.
        "pkg/api.py": "from .types import wanted_one\nfrom .big import big_thing\n\n\ndef other(x):\n"
                      "    return big_thing(wanted_one(x))\n" + "\n" * 60 + "\ndef call(x):\n    y = 1\n    return y\n",
    })
    with index:
        position = _at(index, "pkg/api.py", "y = 1")
        small = index.context_for("pkg/api.py", position, 400)
        assert _shows(small, "pkg/types.py", "def wanted_one(x):"), [s.text for s in small]
        types = next(s for s in small if s.path == "pkg/types.py")
        assert "outline of `.types` (imported at line 1), names this file uses" in types.reason
        assert _shows(small, "pkg/big.py", "def big_thing(value):"), [s.text for s in small]
        assert not _shows(small, "pkg/types.py", "def unused_helper_29(a, b, c, d):")
        large = index.context_for("pkg/api.py", position, 8192)  # with room, the rest of the outline
        assert _shows(large, "pkg/types.py", "def unused_helper_29(a, b, c, d):")


def test_among_rust_imports_a_type_written_before_a_path_separator_is_offered(tmp_path):
    # `WrappingMode::Character` inside a macro is no reference the tags query sees; the removed
    # `use crate::wrapping::WrappingMode;` line still needs its definition.
    index = _repo(tmp_path, {
        "Cargo.toml": '[package]\nname = "bat"\nversion = "0.1.0"\n',
        "src/lib.rs": "pub mod wrapping;\npub mod printer;\n",
        "src/wrapping.rs": "pub enum WrappingMode {\n    Character,\n    NoWrapping(bool),\n}\n",
        "src/printer.rs": """
            use std::io::Write;


            pub fn wraps(mode: u8) -> bool {
                matches!(mode_of(mode), WrappingMode::Character)
            }
            """,
    })
    with index:
        snippets = index.context_for("src/printer.rs", Position(1, 0), 1024)
        wrapping = next(s for s in snippets if s.path == "src/wrapping.rs")
        assert "pub enum WrappingMode {" in wrapping.text.split("\n")
        assert "imported by no line: `WrappingMode`" in wrapping.reason


def _repo_map_tokens(snippets) -> int:
    from qcn.indexer import total_tokens
    return total_tokens([s for s in snippets if s.source == "repo_map"])


def test_repository_map_yields_its_share_to_evidence(tmp_path):
    # Many ranked files for the map; one file whose cursor needs nothing, one whose cursor needs large
    # definitions that fill half the budget: the map gets its whole share only in the first.
    files = {f"lib/mod{i}.py": "".join(f"def helper_{i}_{j}(a, b):\n    return a + b\n\n\n" for j in range(12))
             for i in range(30)}
    files["lib/__init__.py"] = ""
    # Each under a 24th of the budget (shown whole), ten of them over a quarter of it.
    body = "".join(f"    total_{j} = value * {j}\n" for j in range(45))
    files.update({f"lib/big{k}.py": f"def big_{k}(value):\n{body}    return value\n" for k in range(10)})
    files["lib/uses.py"] = "".join(f"from .mod{i} import helper_{i}_0\n" for i in range(30))
    files["lib/plain.py"] = "def alone(x):\n    y = x\n    return y\n"
    files["lib/busy.py"] = "".join(f"from .big{k} import big_{k}\n" for k in range(10)) + \
        "\n\ndef run(v):\n" + "".join(f"    w{k} = big_{k}(v)\n" for k in range(10)) + "    return v\n"
    index = _repo(tmp_path, files)
    with index:
        index.rank(current=True)
        budget = 8192
        plain = index.context_for("lib/plain.py", _at(index, "lib/plain.py", "y = x"), budget)
        busy = index.context_for("lib/busy.py", _at(index, "lib/busy.py", "    return v"), budget)
        assert _shows(busy, "lib/big9.py", "def big_9(value):")
        evidence = sum(s.tokens for s in busy if s.source != "repo_map")
        assert evidence > 0.25 * budget, evidence
        assert _repo_map_tokens(plain) > 0.2 * budget, _repo_map_tokens(plain)
        assert _repo_map_tokens(busy) < 0.5 * _repo_map_tokens(plain), (_repo_map_tokens(busy), evidence)


def test_among_reexports_the_folder_files_no_line_exports_yet_come_first(tmp_path):
    """An index that re-exports a folder, line removed: the missing line names a file of that folder that no
    line exports, most likely one that sorts between the lines above and below the cursor."""
    files = {f"src/ops/{name}.ts": f"export function {name}Op(x: number): number {{ return x; }}\n"
             for name in ("a", "b", "c", "d", "e", "f", "g", "h")}
    files["src/index.ts"] = """
        export { aOp } from './ops/a';
        export { bOp } from './ops/b';

        export { eOp } from './ops/e';
        """
    index = _repo(tmp_path, files)
    with index:
        snippets = index.context_for("src/index.ts", Position(2, 0), 1024)
        assert _shows(snippets, "src/ops/c.ts", "export function cOp(x: number): number { return x; }"), \
            _paths(snippets)
        assert _shows(snippets, "src/ops/d.ts", "export function dOp(x: number): number { return x; }")
        assert "src/ops/h.ts" not in _paths(snippets)  # not between the neighbours, and far from them
        reasons = {s.path: s.reason for s in snippets}
        assert "no line imports" in reasons["src/ops/c.ts"]


def test_among_imports_a_used_name_nothing_binds_beats_the_neighbours_definitions(tmp_path):
    """Python import block, `from .theme import Theme` removed: the file still uses Theme, which nothing binds
    now; its definition comes before the large definitions of what the lines around import already."""
    methods = "\n".join(f"    def method_{i}(self, value: int) -> int:\n        return value + {i}\n"
                        for i in range(12))
    index = _repo(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/text.py": "class Text:\n" + methods,
        "pkg/style.py": "class Style:\n" + methods,
        "pkg/theme.py": """
            class Theme:
                def __init__(self, name: str) -> None:
                    self.name = name
            """,
        "pkg/tb.py": """
            from .text import Text

            from .style import Style


            def render(text: Text, style: Style) -> "Theme":
                return Theme("dark")
            """,
    })
    with index:
        snippets = index.context_for("pkg/tb.py", Position(1, 0), 200)
        assert _shows(snippets, "pkg/theme.py", "class Theme:"), [(s.path, s.reason) for s in snippets]
        assert snippets[0].path == "pkg/theme.py", [(s.path, s.reason) for s in snippets]


def _many(template: str, count: int) -> str:
    return "".join(template.format(i=i) for i in range(count))


def test_a_module_used_through_its_alias_near_the_cursor_shows_its_other_names(tmp_path):
    """`errors.Error03` just above: the next line may raise any other error of that module (here one no line
    uses yet), so its outline goes before that of a module imported earlier but not used nearby."""
    index = _repo(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/helpers.py": _many("def helper_{i:02d}(value: int, scale: int = 1) -> int:\n    return value\n\n\n", 40),
        "pkg/errors.py": _many("class Error{i:02d}(Exception):\n    pass\n\n\n", 30),
        "pkg/main.py": """
            from . import helpers
            from . import errors


            def total(values):
                return sum(helpers.helper_00(v) for v in values)


            def check(value):
                if value < 0:
                    raise errors.Error03(value)

            """,
    })
    with index:
        text = (index.root / "pkg/main.py").read_text()
        snippets = index.context_for("pkg/main.py", Position(text.count("\n") - 1, 4), 1400)
        assert _shows(snippets, "pkg/errors.py", "class Error17(Exception):"), [(s.path, s.reason) for s in snippets]


def test_a_module_whose_names_are_used_near_the_cursor_outlines_them_first(tmp_path):
    """A signature's parameters use the type aliases of one module: the names this file uses from it (one only
    the removed line would use here) go before the outlines of modules imported earlier, used far away."""
    files = {"api/__init__.py": ""}
    names = {}
    for module in ("models", "config", "auth", "urls"):
        title = module.title()
        header = f"class {title}{{i:02d}}(\n    BaseOne,\n    BaseTwo,\n):\n"  # four lines of header each
        files[f"api/{module}.py"] = _many(header + "    pass\n\n\n", 20)
        names[module] = [f"{title}{i:02d}" for i in range(20)]
    files["api/types.py"] = _many("Zeta{i:02d} = int | str\n", 12)
    imports = "".join(f"from .{module} import {', '.join(used)}\n" for module, used in names.items())
    uses = ", ".join(name + "()" for used in names.values() for name in used)  # calls: references
    files["api/client.py"] = imports + f"""from .types import Zeta00, Zeta01, Zeta09


def build():
    return [{uses}]
""" + _many("\n\ndef filler_{i:02d}():\n    pass\n", 12) + """

class Client:
    def __init__(
        self,
        first: Zeta00,

    ) -> None:
        pass
""" + _many("\n\ndef filler_{i:02d}():\n    pass\n", 8) + """

def make(value) -> Zeta09:  # far below the cursor: not a name near it
    return value
"""
    index = _repo(tmp_path, files)
    with index:
        text = (index.root / "api/client.py").read_text()
        line = text.split("\n").index("        first: Zeta00,") + 1
        snippets = index.context_for("api/client.py", Position(line, 8), 1000)
        assert _shows(snippets, "api/types.py", "Zeta09 = int | str"), [(s.path, s.reason) for s in snippets]


def test_a_commonjs_module_bound_by_require_shows_what_it_exports(tmp_path):
    """`var req = require('./request')` then a bare `req`: what `module.exports` is in request.js (a variable,
    or an object of names), not a namesake elsewhere."""
    index = _repo(tmp_path, {
        "lib/request.js": textwrap.dedent("""
            var http = require('http');

            var req = Object.create(http.IncomingMessage.prototype);

            req.header = function header(name) {
              return this.headers[name];
            };
            """) + _many("\nreq.accepts{i:02d} = function accepts{i:02d}(types, options) {{\n  return types;\n}};\n",
                         30)
                + "\nmodule.exports = req;\n",
        "lib/dates.js": """
            function parse(text) {
              return new Date(text);
            }

            function formatDate(date) {
              return date.toISOString();
            }

            module.exports = { parse, format: formatDate };
            """,
        "lib/decoy.js": """
            var req = null;
            module.exports = function decoy() { return req; };
            """,
        "lib/app.js": """
            var req = require('./request');
            var dates = require('./dates');

            function createApplication() {
              var app = {};
              app.request = Object.create(req, {});
              app.dates = dates;

            }
            """,
    })
    with index:
        snippets = index.context_for("lib/app.js", _at(index, "lib/app.js", "app.dates = dates;\n"), 400)
        assert _shows(snippets, "lib/request.js", "var req = Object.create(http.IncomingMessage.prototype);"), \
            [(s.path, s.reason) for s in snippets]
        assert _shows(snippets, "lib/dates.js", "function parse(text) {")
        assert _shows(snippets, "lib/dates.js", "function formatDate(date) {")
        assert "lib/decoy.js" not in _paths(snippets)


def test_go_a_constant_deep_in_a_const_group_shows_its_own_line(tmp_path):
    """Go `const (` groups: each constant starts at the group's first line; the package outline shows the line
    that names it, not only the group's head."""
    index = _repo(tmp_path, {
        "go.mod": "module example.com/mux\n\ngo 1.21\n",
        "regexp.go": """
            package mux

            type regexpType int

            const (
                regexpTypePath   regexpType = 0
                regexpTypeHost   regexpType = 1
                regexpTypePrefix regexpType = 2
                regexpTypeQuery  regexpType = 3
            )
            """,
        "route.go": """
            package mux

            func isPath(typ regexpType) bool {
                if typ < 0 {
                    return true
                }

                return false
            }
            """,
    })
    with index:
        text = (index.root / "route.go").read_text()
        line = text.split("\n").index("        return true") + 2  # the blank line after the `if`
        snippets = index.context_for("route.go", Position(line, 4), 1024)
        assert _shows(snippets, "regexp.go", "    regexpTypePrefix regexpType = 2"), \
            [(s.path, s.text) for s in snippets]
        assert _shows(snippets, "regexp.go", "    regexpTypeQuery  regexpType = 3")


def test_a_file_of_only_reexports_outlines_the_names_this_file_uses_where_they_are_defined(tmp_path):
    """`internal.ts` is nothing but `export * from` lines (not named index.ts): what the current file imports
    through it shows at its real definition, one the cursor's neighbourhood does not use included."""
    filler = _many("export function helper{i:02d}(value: number): number {{\n  return value + {i};\n}}\n\n", 30)
    index = _repo(tmp_path, {
        "src/utils/env.ts": "export const NOTHING: unique symbol = Symbol.for('nothing')\n"
                            "export const DRAFT_STATE: unique symbol = Symbol.for('draft-state')\n",
        "src/utils/common.ts": filler,
        "src/internal.ts": 'export * from "./utils/common"\nexport * from "./utils/env"\n',
        "src/core/proxy.ts": textwrap.dedent("""
            import { DRAFT_STATE, helper00 } from "../internal"

            export function isDraft(value: any): boolean {
              return !!value && !!value[DRAFT_STATE]
            }
            """).lstrip("\n") + _many("\nexport function filler{i:02d}(): number {{\n  return {i}\n}}\n", 15) + """
export function current(draft: any): number {
  const total = helper00(1)

  return total
}
""",
    })
    with index:
        text = (index.root / "src/core/proxy.ts").read_text()
        line = text.split("\n").index("  const total = helper00(1)") + 1
        snippets = index.context_for("src/core/proxy.ts", Position(line, 2), 600)
        assert _shows(snippets, "src/utils/env.ts",
                      "export const DRAFT_STATE: unique symbol = Symbol.for('draft-state')"), \
            [(s.path, s.reason) for s in snippets]


def test_a_name_imported_from_a_module_that_re_exports_it_shows_its_real_definition(tmp_path):
    """clap's `use crate::output::Usage;` where `output/mod.rs` has code of its own and
    `pub(crate) use self::usage::Usage;`: the struct's signature in usage.rs, though the cursor is far
    from any use of it (the removed line was its only use nearby)."""
    # 70 functions, each calling a helper twice: the file's 60 most used names leave `Usage` (used once) out.
    filler = _many("\nfn filler_{i:02d}(x: u32) -> u32 {{\n    helper_{i:02d}(x) + helper_{i:02d}(x)\n}}\n", 70)
    index = _repo(tmp_path, {
        "Cargo.toml": '[package]\nname = "cli"\nversion = "0.1.0"\n',
        "src/lib.rs": "pub mod output;\npub mod parser;\n",
        "src/output/mod.rs": "mod usage;\nmod help;\n\npub(crate) use self::usage::Usage;\n\n"
                             "pub(crate) fn write_help(out: &mut String) {\n    out.push_str(\"help\");\n}\n",
        "src/output/usage.rs": "pub(crate) struct Usage<'cmd> {\n    cmd: &'cmd str,\n}\n\n"
                               "impl<'cmd> Usage<'cmd> {\n    pub(crate) fn new(cmd: &'cmd str) -> Self {\n"
                               "        Usage { cmd }\n    }\n}\n",
        "src/output/help.rs": "pub(crate) struct Help;\n",
        "src/parser/mod.rs": "use crate::output::Usage;\n\nfn report(cmd: &str) -> String {\n"
                             "    let usage = Usage::new(cmd);\n    String::new()\n}\n" + filler
                             + "\nfn validate(cmd: &str) {\n    \n}\n",
    })
    with index:
        line = _line_of(index, "src/parser/mod.rs", "fn validate(cmd: &str) {") + 1
        snippets = index.context_for("src/parser/mod.rs", Position(line, 4), 2048)
        assert _shows(snippets, "src/output/usage.rs", "pub(crate) struct Usage<'cmd> {"), \
            [(s.path, s.reason) for s in snippets]


def test_a_default_imported_module_used_as_alias_near_the_cursor_lists_all_its_names(tmp_path):
    """axios: `import utils from './utils.js'` and `utils.isX(...)` calls around the cursor: the next line may
    call any of the 70 helpers, so the outline lists past the first 40 (here `isHelper69`, which no line uses)."""
    helpers = _many("const isHelper{i:02d} = (t) => !t;\n\n", 70)
    exported = ", ".join(f"isHelper{i:02d}" for i in range(70))
    index = _repo(tmp_path, {
        "lib/utils.js": helpers + f"export default {{ {exported} }};\n",
        "lib/adapter.js": "import utils from './utils.js';\n\n"
                          "export default function adapt(data) {\n"
                          "  if (utils.isHelper00(data)) {\n    return 1;\n  }\n"
                          "  if (utils.isHelper01(data)) {\n    return 2;\n  }\n"
                          "  \n}\n",
    })
    with index:
        line = _line_of(index, "lib/adapter.js", "  if (utils.isHelper01(data)) {") + 3
        snippets = index.context_for("lib/adapter.js", Position(line, 2), 4096)
        assert _shows(snippets, "lib/utils.js", "const isHelper69 = (t) => !t;"), \
            [(s.path, s.reason) for s in snippets]


def test_standard_method_and_builtin_names_are_not_looked_up_by_name(tmp_path):
    """`items.push(...)` / Python's `print(...)` far from the cursor are a standard type's method and a builtin,
    not the repository's namesakes (rich defines its own `print`, axios a `push`)."""
    index = _repo(tmp_path, {
        "js/stack.js": "export class Stack {\n  push(item) {\n    return item;\n  }\n}\n",
        "js/main.js": "export function run(items) {\n  items.push(1);\n  return items;\n}\n\n"
                      "export function other() {\n  \n}\n",
        "py/console.py": "def print(*objects):\n    return objects\n",
        "py/main.py": "def run(items):\n    print(items)\n    return items\n\n\ndef other():\n    pass\n",
    })
    with index:
        js = index.context_for("js/main.js", Position(6, 2), 2048)
        assert "js/stack.js" not in _paths(js), [(s.path, s.reason) for s in js]
        py = index.context_for("py/main.py", Position(6, 4), 2048)
        assert "py/console.py" not in _paths(py), [(s.path, s.reason) for s in py]


def test_the_from_keyword_is_not_a_use(tmp_path):
    """rxjs exports a function `from`, and every `export { x } from './y'` line writes the keyword: that is
    not a use of the function; nor is Python's `from .text import` a use of a `text` with qualifier `from`."""
    index = _repo(tmp_path, {
        "src/from.ts": "export function from(input: number[]): number[] {\n  return input;\n}\n",
        "src/map.ts": "export function map(x: number): number {\n  return x;\n}\n",
        "src/index.ts": "export { map } from './map';\n\n",
        "pkg/__init__.py": "",
        "pkg/text.py": "class Text:\n    pass\n",
        "lib/other.py": "def text(value):\n    return value\n",  # outside the imports' folder
        "pkg/main.py": "from .text import Text\n\n",
    })
    with index:
        ts = index.context_for("src/index.ts", Position(1, 0), 2048)
        assert not any("`from`" in s.reason for s in ts), [(s.path, s.reason) for s in ts]
        py = index.context_for("pkg/main.py", Position(1, 0), 2048)
        assert not any("from.text" in s.reason or "lib/other.py" == s.path for s in py), \
            [(s.path, s.reason) for s in py]


def test_among_the_imports_a_bare_constant_is_offered_and_a_member_constant_is_not(tmp_path):
    """immer: `NOTHING` is compared against far below, and the import line that named it was removed: its
    definition is offered; `Codes.SPECIAL` (a member, written through its class) is not an importable name."""
    index = _repo(tmp_path, {
        "src/utils/env.ts": "export const NOTHING: unique symbol = Symbol.for('nothing')\n",
        "src/codes.ts": "export class Codes {\n  static SPECIAL = 1\n}\n",
        "lib/other.ts": "export const SPECIAL = 2\n",  # outside the imports' folder, as env.ts
        "src/main.ts": "import { Codes } from './codes'\n\n"
                       + _many("\nexport function filler{i:02d}(x: number): number {{\n  return x\n}}\n", 20)
                       + "\nexport function run(result: unknown) {\n  if (result === NOTHING) return Codes.SPECIAL\n"
                       "  return 0\n}\n",
    })
    with index:
        snippets = index.context_for("src/main.ts", Position(1, 0), 2048)
        assert _shows(snippets, "src/utils/env.ts", "export const NOTHING: unique symbol = Symbol.for('nothing')"), \
            [(s.path, s.reason) for s in snippets]
        assert "lib/other.ts" not in _paths(snippets), [(s.path, s.reason) for s in snippets]


def test_a_class_written_before_a_member_near_the_cursor_outlines_its_other_members(tmp_path):
    """httpx: `codes.get_reason_phrase(status)` after `codes.is_error(status)`: `codes` is an imported class
    (not a receiver of some type), so its outline shows the member the next line calls."""
    # 60 members: the class is too large to show whole, and its 40-member fallback would cut the one needed
    members = _many("    def helper_{i:02d}(self, value: int) -> int:\n        return value + {i}\n\n", 60)
    index = _repo(tmp_path, {
        "web/__init__.py": "",
        "web/status.py": "class codes:\n" + members
                         + "    @classmethod\n    def get_reason_phrase(cls, value: int) -> str:\n        return ''\n\n"
                         + "    @classmethod\n    def is_error(cls, value: int) -> bool:\n        return value >= 400\n",
        "web/main.py": "from .status import codes\n\n\ndef show(status):\n    if codes.is_error(status):\n"
                       "        pass\n    \n",
    })
    with index:
        snippets = index.context_for("web/main.py", Position(6, 4), 4096)
        assert _shows(snippets, "web/status.py", "    def get_reason_phrase(cls, value: int) -> str:"), \
            [(s.path, s.reason) for s in snippets]


def test_names_read_through_a_module_alias_lead_that_modules_outline(tmp_path):
    """`_typing_extra.is_none_type` handed over far from the cursor (read, not called: no reference): the
    outline of `_typing_extra` (61 functions, past the 40 an outline lists) shows it first."""
    index = _repo(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/_typing_extra.py": _many("def is_thing_{i:02d}(tp: object, /) -> bool:\n    return False\n\n\n", 60)
                                + "def is_none_type(tp: object, /) -> bool:\n    return tp is None\n",
        "pkg/schema.py": "from . import _typing_extra\n\n\ndef first(objs):\n"
                         "    return filter(_typing_extra.is_none_type, objs)\n"
                         + _many("\n\ndef filler_{i:02d}(x):\n    return x\n", 30)
                         + "\n\ndef match(obj):\n    if obj:\n        return 1\n    \n",
    })
    with index:
        text = (index.root / "pkg/schema.py").read_text()
        line = text.count("\n") - 1
        snippets = index.context_for("pkg/schema.py", Position(line, 4), 1024)
        assert _shows(snippets, "pkg/_typing_extra.py", "def is_none_type(tp: object, /) -> bool:"), \
            [(s.path, s.reason) for s in snippets]


def test_a_receiver_reached_through_fields_has_the_fields_declared_type(tmp_path):
    """bat: `self.config.style_components.numbers()` in `Controller`: `config: &'a Config<'b>` then
    `style_components: StyleComponents` say which `numbers` it is (not the namesake in `Other`)."""
    index = _repo(tmp_path, {
        "Cargo.toml": '[package]\nname = "viewer"\nversion = "0.1.0"\n',
        "src/lib.rs": "pub mod config;\npub mod style;\npub mod other;\npub mod controller;\n",
        "src/style.rs": "pub struct StyleComponents(u8);\n\nimpl StyleComponents {\n"
                        "    pub fn numbers(&self) -> bool {\n        self.0 > 0\n    }\n}\n",
        "src/other.rs": "pub struct Other;\n\nimpl Other {\n    pub fn numbers(&self) -> bool {\n        false\n    }\n}\n",
        "src/config.rs": "use crate::style::StyleComponents;\n\npub struct Config<'a> {\n    pub name: &'a str,\n"
                         "    pub style_components: StyleComponents,\n}\n",
        "src/controller.rs": "use crate::config::Config;\n\npub struct Controller<'a> {\n    config: &'a Config<'a>,\n}\n\n"
                             "impl<'a> Controller<'a> {\n    pub fn run(&self) -> bool {\n"
                             "        self.config.style_components.numbers()\n    }\n}\n",
    })
    with index:
        position = _at(index, "src/controller.rs", "self.config.style_components.")
        snippets = index.context_for("src/controller.rs", position, 1024)
        assert _shows(snippets, "src/style.rs", "    pub fn numbers(&self) -> bool {"), \
            [(s.path, s.reason) for s in snippets]
        assert not any(s.path == "src/other.rs" and s.source != "similar" for s in snippets), \
            [(s.path, s.reason) for s in snippets]


def test_java_a_field_used_without_this_has_the_fields_declared_type(tmp_path):
    """jpype: `audit.verify(desc)` in a method of a class with a field `public TypeAudit audit`: the member of
    `TypeAudit`, not the namesake `Checker.verify`."""
    index = _repo(tmp_path, {
        "src/org/acme/TypeAudit.java": "package org.acme;\n\npublic class TypeAudit {\n"
                                       "  public void verify(Object desc) {\n  }\n}\n",
        "src/org/acme/Checker.java": "package org.acme;\n\npublic class Checker {\n"
                                     "  public void verify(Object desc) {\n  }\n}\n",
        "src/org/acme/Manager.java": "package org.acme;\n\npublic class Manager {\n  public TypeAudit audit = null;\n\n"
                                     "  void check(Object desc) {\n    audit.verify(desc);\n  }\n}\n",
    })
    with index:
        snippets = index.context_for("src/org/acme/Manager.java", _at(index, "src/org/acme/Manager.java", "audit."),
                                     1024)
        assert _shows(snippets, "src/org/acme/TypeAudit.java", "  public void verify(Object desc) {"), \
            [(s.path, s.reason) for s in snippets]
        assert any("`audit` is a `TypeAudit`" in s.reason for s in snippets), [(s.path, s.reason) for s in snippets]
        assert not any(s.path == "src/org/acme/Checker.java" and "`audit.verify`" in s.reason for s in snippets)


def test_a_definition_over_a_24th_of_the_budget_shows_its_signature_and_doc_not_its_body(tmp_path):
    """At 4K a 40-line function called at the cursor is outlined (signature, doc) so the room goes to more
    definitions; a 5-line one is shown whole."""
    body = "".join(f"    step_{j} = value * {j}\n" for j in range(40))
    index = _repo(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/big.py": f'def transform(value):\n    """Scale value by every step."""\n{body}    return value\n',
        "pkg/small.py": "def clamp(value, low, high):\n    if value < low:\n        return low\n    return min(value, high)\n",
        "pkg/main.py": "from .big import transform\nfrom .small import clamp\n\n\ndef run(v):\n"
                       "    return clamp(transform(v), 0, 10)\n",
    })
    with index:
        snippets = index.context_for("pkg/main.py", _at(index, "pkg/main.py", "return clamp("), 4096)
        big = next((s for s in snippets if s.path == "pkg/big.py"), None)
        assert big is not None, [(s.path, s.reason) for s in snippets]
        assert "def transform(value):" in big.text and '    """Scale value by every step."""' in big.text
        assert "    step_30 = value * 30" not in big.text, big.text
        assert _shows(snippets, "pkg/small.py", "    return min(value, high)")


def test_a_property_read_as_a_receiver_has_its_return_type(tmp_path):
    """httpx: `self.base_url.raw_path` where `base_url` is a property `def base_url(self) -> URL`: `URL.raw_path`,
    not a namesake `Route.raw_path`."""
    index = _repo(tmp_path, {
        "web/__init__.py": "",
        "web/urls.py": "class URL:\n    @property\n    def raw_path(self) -> bytes:\n        return b''\n",
        "web/routes.py": "class Route:\n    @property\n    def raw_path(self) -> bytes:\n        return b'/'\n",
        "web/client.py": "from .urls import URL\n\n\nclass Client:\n    @property\n    def base_url(self) -> URL:\n"
                         "        return URL()\n\n    def merge(self):\n        return self.base_url.raw_path\n",
    })
    with index:
        snippets = index.context_for("web/client.py", _at(index, "web/client.py", "self.base_url."), 1024)
        assert any("`self.base_url` is a `URL`" in s.reason for s in snippets), [(s.path, s.reason) for s in snippets]
        assert not any(s.path == "web/routes.py" and "raw_path" in s.reason for s in snippets), \
            [(s.path, s.reason) for s in snippets]


def test_names_a_reexporting_package_offers_but_this_file_never_uses_only_fill_room(tmp_path):
    """pydantic.v1: `from pydantic.v1 import errors` then `raise errors.StrError()` lines: the package's other
    re-exported names (never used here) do not crowd out the outline of `errors`, whose next error class the
    next line may raise."""
    files = {"pkg/__init__.py": "".join(f"from .mod{i:02d} import Thing{i:02d}\n" for i in range(40)) + "from . import errors\n"}
    for i in range(40):
        files[f"pkg/mod{i:02d}.py"] = (f"class Thing{i:02d}:\n    def __init__(self, first: int, second: str, third: float,\n"
                                       f"                 fourth: bytes) -> None:\n        pass\n")
    files["pkg/errors.py"] = _many("class Error{i:02d}(ValueError):\n    code = 'e{i:02d}'\n\n\n", 30)
    files["app/__init__.py"] = ""
    files["app/validators.py"] = ("from pkg import errors\n\n\ndef check_a(v):\n    if not v:\n        raise errors.Error00()\n\n\n"
                                  "def check_b(v):\n    if v is None:\n        raise errors.Error01()\n\n\n"
                                  "def check_c(v):\n    if v is not None:\n        \n")
    index = _repo(tmp_path, files)
    with index:
        text = (index.root / "app/validators.py").read_text()
        snippets = index.context_for("app/validators.py", Position(text.count("\n") - 1, 8), 1024)
        assert _shows(snippets, "pkg/errors.py", "class Error29(ValueError):"), [(s.path, s.reason) for s in snippets]

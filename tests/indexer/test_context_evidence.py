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

"""Import resolution to workspace files, per language family."""

from __future__ import annotations

import pytest

from qcn.indexer import Index, IndexConfig

from indexer_support import LANGUAGES, copy_fixture

EXPECTED = {
    "python": {
        "scripts/checkout.py": ("src/shop/__init__.py", "src/shop/cart.py", "src/shop/models.py"),
        "src/shop/__init__.py": ("src/shop/pricing.py",),
        "src/shop/cart.py": ("src/shop/models.py", "src/shop/pricing.py"),
    },
    "javascript": {
        "src/main.js": ("src/lib/index.js", "src/util/strings.js"),
        "src/lib/index.js": ("src/lib/format.js",),
    },
    "typescript": {"src/app/Checkout.tsx": ("src/core/money.ts",)},
    "go": {"cmd/shop/main.go": ("pricing/pricing.go", "pricing/round.go")},
    "rust": {
        "src/lib.rs": ("src/cart.rs", "src/net/mod.rs", "src/pricing.rs"),
        "src/net/mod.rs": ("src/net/http.rs",),
        "src/cart.rs": ("src/net/http.rs", "src/pricing.rs"),
    },
    "java": {"src/main/java/com/acme/app/Main.java": ("src/main/java/com/acme/shop/Pricing.java",)},
    "c": {"src/main.c": ("include/shop/pricing.h",), "src/pricing.c": ("include/shop/pricing.h", "src/util.h")},
    "cpp": {"src/main.cpp": ("include/geo/shape.hpp",), "src/shape.cpp": ("include/geo/shape.hpp",)},
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_fixture_imports_resolve(tmp_path, language):
    with Index(copy_fixture(language, tmp_path), use_cache=False) as index:
        index.build()
        got = {path: index.imports_of(path) for path in index.files() if index.imports_of(path)}
    assert got == EXPECTED[language]


def _imports(root, path, **config):
    with Index(root, IndexConfig(**config), use_cache=False) as index:
        index.build()
        return index.imports_of(path)


def test_python_forms(make_repo):
    root = make_repo({
        "src/app/__init__.py": "", "src/app/core/__init__.py": "", "src/app/core/db.py": "",
        "src/app/core/models.py": "from . import db\nfrom .. import web\nfrom ...outside import x\n",
        "src/app/web.py": "import app.core.db as database\nfrom app.core import models\nimport json\n",
        "tools/lint.py": "from app.web import handler\n",
    })
    assert _imports(root, "src/app/core/models.py") == ("src/app/__init__.py", "src/app/core/__init__.py",
                                                         "src/app/core/db.py", "src/app/web.py")
    assert _imports(root, "src/app/web.py") == ("src/app/core/__init__.py", "src/app/core/db.py",
                                                 "src/app/core/models.py")
    assert _imports(root, "tools/lint.py") == ("src/app/web.py",)


def test_javascript_forms(make_repo):
    root = make_repo({
        "web/tsconfig.base.json": '{"compilerOptions": {"baseUrl": "src", "paths": {"~/*": ["lib/*"]}}}',
        "web/tsconfig.json": '{"extends": "./tsconfig.base.json"}',
        "web/src/lib/dates.ts": "export const x = 1;",
        "web/src/lib/ui/index.tsx": "export const y = 2;",
        "web/src/util.ts": "export const z = 3;",
        "web/src/main.ts": ("import {x} from '~/dates';\nimport {y} from './lib/ui';\n"
                            "import {z} from './util.js';\nimport {w} from 'util';\nimport React from 'react';\n"),
    })
    assert _imports(root, "web/src/main.ts") == ("web/src/lib/dates.ts", "web/src/lib/ui/index.tsx",
                                                 "web/src/util.ts")


def test_go_modules_and_java_nested_classes(make_repo):
    root = make_repo({
        "svc/go.mod": "module github.com/acme/svc\n",
        "svc/internal/db/db.go": "package db\n", "svc/internal/db/db_test.go": "package db\n",
        "svc/main.go": 'package main\nimport (\n  "github.com/acme/svc/internal/db"\n  "net/http"\n)\n',
        "j/src/com/acme/Outer.java": "package com.acme;\npublic class Outer { public static class Inner {} }\n",
        "j/src/com/acme/Use.java": "package com.acme.use;\nimport com.acme.Outer.Inner;\nimport com.acme.*;\n",
    })
    assert _imports(root, "svc/main.go") == ("svc/internal/db/db.go",)
    assert _imports(root, "j/src/com/acme/Use.java") == ("j/src/com/acme/Outer.java",)


def test_rust_paths(make_repo):
    root = make_repo({
        "Cargo.toml": '[package]\nname = "my-crate"\n',
        "src/main.rs": "mod a;\n",
        "src/a.rs": "pub mod b;\nuse super::c::Thing;\n",
        "src/a/b.rs": "use crate::a::helper;\nuse self::deep::*;\n",
        "src/a/b/deep.rs": "",
        "src/c.rs": "",
        "tests/it.rs": "use my_crate::a::b;\n",
    })
    assert _imports(root, "src/a.rs") == ("src/a/b.rs", "src/c.rs")
    assert _imports(root, "src/a/b.rs") == ("src/a.rs", "src/a/b/deep.rs")
    assert _imports(root, "tests/it.rs") == ("src/a/b.rs",)


def test_c_include_dirs_and_system_headers(make_repo):
    root = make_repo({
        "third/zlib/zlib.h": "int deflate(void);\n",
        "lib/inc/proj/api.h": "int api(void);\n",
        "src/main.c": '#include "proj/api.h"\n#include <zlib.h>\n#include <stdio.h>\n#include "missing.h"\n',
    })
    assert _imports(root, "src/main.c") == ("lib/inc/proj/api.h",)  # unique path-suffix match
    assert _imports(root, "src/main.c", include_dirs=("third/zlib",)) == ("lib/inc/proj/api.h", "third/zlib/zlib.h")


def test_new_files_satisfy_waiting_imports(make_repo):
    root = make_repo({"main.py": "from helpers import assist\n"})
    with Index(root, use_cache=False) as index:
        index.build()
        assert index.imports_of("main.py") == ()
        (root / "helpers.py").write_text("def assist():\n    pass\n")
        index.refresh([root / "helpers.py"])
        assert index.imports_of("main.py") == ("helpers.py",)
        assert index.importers_of("helpers.py") == ("main.py",)
        (root / "helpers.py").unlink()
        index.refresh([root / "helpers.py"])
        assert index.imports_of("main.py") == ()

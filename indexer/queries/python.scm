; qcn additions to tree-sitter-python's shipped TAGS_QUERY.
; Capture contract: see indexer/languages.py.

(import_statement) @import
(import_from_statement) @import

(class_definition
  superclasses: (argument_list (identifier) @name) @reference.class)

(class_definition
  superclasses: (argument_list (attribute attribute: (identifier) @name)) @reference.class)

(type (identifier) @name) @reference.type

; Module-level names bound inside `if`/`else`/`try` blocks: `if TYPE_CHECKING:` aliases,
; compatibility shims (`try: from x import y` / `except ImportError: y = None`), version switches.
(module (if_statement consequence: (block (expression_statement (assignment left: (identifier) @name) @definition.constant))))
(module (if_statement alternative: (else_clause body: (block (expression_statement (assignment left: (identifier) @name) @definition.constant)))))
(module (if_statement alternative: (elif_clause consequence: (block (expression_statement (assignment left: (identifier) @name) @definition.constant)))))
(module (try_statement body: (block (expression_statement (assignment left: (identifier) @name) @definition.constant))))
(module (try_statement (except_clause (block (expression_statement (assignment left: (identifier) @name) @definition.constant)))))
(module (try_statement (else_clause body: (block (expression_statement (assignment left: (identifier) @name) @definition.constant)))))
(module (if_statement consequence: (block (function_definition name: (identifier) @name) @definition.function)))
(module (if_statement alternative: (else_clause body: (block (function_definition name: (identifier) @name) @definition.function))))
(module (if_statement consequence: (block (class_definition name: (identifier) @name) @definition.class)))
(module (if_statement alternative: (else_clause body: (block (class_definition name: (identifier) @name) @definition.class))))
(module (try_statement (except_clause (block (function_definition name: (identifier) @name) @definition.function))))
(module (try_statement (except_clause (block (class_definition name: (identifier) @name) @definition.class))))

; Class-level attributes, annotated or assigned: dataclass/attrs/pydantic fields, enum members,
; class constants (`x: int`, `x: int = 0`, `X = 1`).
(class_definition body: (block (expression_statement (assignment left: (identifier) @name) @definition.field)))

; qcn additions to tree-sitter-go's shipped TAGS_QUERY.

(package_clause (package_identifier) @package)

(import_spec) @import

;; Without the `name:` field each name of `const a, b = 1, 2` is its own match (with it, only the first).
(source_file (var_declaration (var_spec (identifier) @name) @definition.variable))
(source_file (const_declaration (const_spec (identifier) @name) @definition.constant))
(source_file (var_declaration (var_spec_list (var_spec (identifier) @name) @definition.variable)))

(selector_expression
  field: (field_identifier) @name) @reference.field

; Struct fields and interface methods: `T.Field`, `I.Method`.
(field_declaration_list (field_declaration name: (field_identifier) @name) @definition.field)
(interface_type (method_elem name: (field_identifier) @name) @definition.method)

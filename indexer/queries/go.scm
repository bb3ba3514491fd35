; qcn additions to tree-sitter-go's shipped TAGS_QUERY.

(package_clause (package_identifier) @package)

(import_spec) @import

(source_file (var_declaration (var_spec name: (identifier) @name) @definition.variable))
(source_file (const_declaration (const_spec name: (identifier) @name) @definition.constant))

(selector_expression
  field: (field_identifier) @name) @reference.field

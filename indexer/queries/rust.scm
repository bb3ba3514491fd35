; qcn additions to tree-sitter-rust's shipped TAGS_QUERY.

(use_declaration) @import
(mod_item name: (identifier) !body) @import

(impl_item type: (_) @name) @scope

(const_item name: (identifier) @name) @definition.constant
(static_item name: (identifier) @name) @definition.constant

(scoped_identifier name: (identifier) @name) @reference.path
(type_identifier) @name @reference.type

; Struct fields and enum variants: `S.field`, `E.Variant`.
(field_declaration_list (field_declaration name: (field_identifier) @name) @definition.field)
(enum_variant_list (enum_variant name: (identifier) @name) @definition.constant)

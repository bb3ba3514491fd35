; qcn additions to tree-sitter-java's shipped TAGS_QUERY.

(package_declaration [(identifier) (scoped_identifier)] @package)

(import_declaration) @import

(enum_declaration name: (identifier) @name) @definition.enum
(record_declaration name: (identifier) @name) @definition.class
(annotation_type_declaration name: (identifier) @name) @definition.interface
(field_declaration declarator: (variable_declarator name: (identifier) @name)) @definition.field
(constant_declaration declarator: (variable_declarator name: (identifier) @name)) @definition.constant

(field_access field: (identifier) @name) @reference.field
(type_identifier) @name @reference.type

(enum_constant name: (identifier) @name) @definition.constant

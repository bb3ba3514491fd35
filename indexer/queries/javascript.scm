; qcn additions to tree-sitter-javascript's shipped TAGS_QUERY (imports and
; top-level variables come from ecmascript.scm).

(class_declaration
  (class_heritage (identifier) @name) @reference.class)

(field_definition property: (property_identifier) @name) @definition.field

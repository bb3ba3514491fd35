; qcn additions to tree-sitter-python's shipped TAGS_QUERY.
; Capture contract: see indexer/languages.py.

(import_statement) @import
(import_from_statement) @import

(class_definition
  superclasses: (argument_list (identifier) @name) @reference.class)

(class_definition
  superclasses: (argument_list (attribute attribute: (identifier) @name)) @reference.class)

(type (identifier) @name) @reference.type

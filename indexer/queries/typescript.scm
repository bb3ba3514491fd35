; Tags for TypeScript and TSX (tree-sitter-typescript ships no tags query),
; modelled on the JavaScript wheel's TAGS_QUERY plus TypeScript's declarations.
; Imports and top-level variables come from ecmascript.scm.
; Capture contract: see indexer/languages.py.

(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function
(function_signature name: (identifier) @name) @definition.function

(class_declaration name: (type_identifier) @name) @definition.class
(abstract_class_declaration name: (type_identifier) @name) @definition.class

(method_definition
  name: (property_identifier) @name
  (#not-eq? @name "constructor")) @definition.method
(interface_body (method_signature name: (property_identifier) @name) @definition.method)
(abstract_method_signature name: (property_identifier) @name) @definition.method
(public_field_definition name: (property_identifier) @name) @definition.field
(interface_body (property_signature name: (property_identifier) @name) @definition.field)

(interface_declaration name: (type_identifier) @name) @definition.interface
(type_alias_declaration name: (type_identifier) @name) @definition.type
(enum_declaration name: (identifier) @name) @definition.enum
(internal_module name: (identifier) @name) @definition.module
(module name: (string) @name) @definition.module

(lexical_declaration
  (variable_declarator
    name: (identifier) @name
    value: [(arrow_function) (function_expression)]) @definition.function)
(variable_declaration
  (variable_declarator
    name: (identifier) @name
    value: [(arrow_function) (function_expression)]) @definition.function)
;; Members of object type aliases (`type Options = { retries: number }`) and enum members.
(type_alias_declaration value: (object_type (property_signature name: (property_identifier) @name) @definition.field))
(type_alias_declaration value: (object_type (method_signature name: (property_identifier) @name) @definition.method))
(enum_body (property_identifier) @name @definition.constant)
(enum_body (enum_assignment name: (property_identifier) @name) @definition.constant)

((call_expression function: (identifier) @name) @reference.call
 (#not-eq? @name "require"))
(call_expression
  function: (member_expression property: (property_identifier) @name)) @reference.call
(new_expression constructor: (identifier) @name) @reference.class
(type_identifier) @name @reference.type
(extends_clause value: (identifier) @name) @reference.class


; qcn additions to tree-sitter-javascript's shipped TAGS_QUERY.

(import_statement) @import
(export_statement source: (string)) @import

((call_expression
   function: (identifier) @_require
   arguments: (arguments . (string))) @import
 (#eq? @_require "require"))

(call_expression
  function: (import)
  arguments: (arguments . (string))) @import

(class_declaration
  (class_heritage (identifier) @name) @reference.class)

(program
  (lexical_declaration
    (variable_declarator
      name: (identifier) @name
      value: [(number) (string) (template_string) (object) (array) (new_expression) (identifier) (member_expression)])
    @definition.variable))
(program
  (export_statement
    (lexical_declaration
      (variable_declarator
        name: (identifier) @name
        value: [(number) (string) (template_string) (object) (array) (new_expression) (identifier) (member_expression)])
      @definition.variable)))

(program
  (lexical_declaration
    (variable_declarator
      name: (identifier) @name
      value: (call_expression function: (_) @_callee))
    @definition.variable)
  (#not-eq? @_callee "require"))
(program
  (export_statement
    (lexical_declaration
      (variable_declarator
        name: (identifier) @name
        value: (call_expression))
      @definition.variable)))

; Shared by JavaScript, TypeScript and TSX (node types common to both grammars):
; imports and top-level variables. Capture contract: see indexer/languages.py.

(import_statement) @import
(export_statement source: (string)) @import
((call_expression
   function: (identifier) @_require
   arguments: (arguments . (string))) @import
 (#eq? @_require "require"))
(call_expression
  function: (import)
  arguments: (arguments . (string))) @import

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

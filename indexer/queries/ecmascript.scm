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

;; Top-level `const`/`let`/`var` with any initialiser (null, undefined, regexes, bit
;; expressions, `x!`, parenthesised objects, calls) or none; `require(...)` binds an import instead.
(program
  (lexical_declaration
    (variable_declarator name: (identifier) @name value: (_) @_value) @definition.variable)
  (#not-match? @_value "^require[ \t]*\\("))
(program
  (export_statement
    (lexical_declaration
      (variable_declarator name: (identifier) @name value: (_) @_value) @definition.variable))
  (#not-match? @_value "^require[ \t]*\\("))
(program
  (variable_declaration
    (variable_declarator name: (identifier) @name value: (_) @_value) @definition.variable)
  (#not-match? @_value "^require[ \t]*\\("))
(program
  (export_statement
    (variable_declaration
      (variable_declarator name: (identifier) @name value: (_) @_value) @definition.variable))
  (#not-match? @_value "^require[ \t]*\\("))
(program (lexical_declaration (variable_declarator name: (identifier) @name !value) @definition.variable))
(program (export_statement (lexical_declaration (variable_declarator name: (identifier) @name !value) @definition.variable)))
(program (variable_declaration (variable_declarator name: (identifier) @name !value) @definition.variable))

;; `export default <expression>`: a definition named "default" (what `import x from` binds).
(program (export_statement "default" @name value: (_)) @definition.variable)

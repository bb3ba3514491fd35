; qcn additions to tree-sitter-c's shipped TAGS_QUERY (it has no references).

(preproc_include) @import

(preproc_def name: (identifier) @name) @definition.macro
(preproc_function_def name: (identifier) @name) @definition.macro
(enumerator name: (identifier) @name) @definition.constant

(call_expression function: (identifier) @name) @reference.call
(type_identifier) @name @reference.type

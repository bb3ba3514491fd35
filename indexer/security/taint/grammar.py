"""Grammar tables of the taint interpreter: which tree-sitter node types mean what, in every grammar.

Language differences are data here (node types, field names, method names of
containers and getters), so the interpreter's code does not branch on the
language; plus the small helpers that read a node through these tables.
"""

from __future__ import annotations

import functools
import re

FUNCTION_TYPES = frozenset({
    "function_definition", "function_declaration", "function_expression", "function", "arrow_function",
    "method_definition", "generator_function_declaration", "generator_function", "method_declaration",
    "constructor_declaration", "lambda_expression", "func_literal", "lambda",
})
# statements the interpreter does not run (definitions are run on their own, imports bind nothing it tracks)
SKIPPED_STATEMENTS = frozenset({
    "class_definition", "class_declaration", "decorated_definition", "import_statement", "import_from_statement",
    "import_declaration", "package_clause", "comment", "line_comment", "block_comment", "preproc_include",
    "using_declaration",
})
# statements that are just their children, run in order
BLOCK_TYPES = frozenset({
    "block", "statement_block", "compound_statement", "statement_list", "else_clause", "finally_clause",
    "try_statement", "with_statement", "with_clause", "labeled_statement", "synchronized_statement",
    "try_with_resources_statement", "resource_specification", "defer_statement", "go_statement", "catch_clause",
    "except_clause", "expression_statement", "declaration_list", "block_statement", "program", "module",
    "source_file", "translation_unit",
})
CLASS_TYPES = frozenset({
    "class_definition", "class_declaration", "class", "class_body", "interface_declaration",
    "enum_declaration", "decorated_definition", "class_specifier", "struct_specifier", "declaration_list",
    "namespace_definition", "export_statement", "field_declaration_list", "template_declaration",
})
STRING_TYPES = frozenset({
    "string", "string_literal", "interpreted_string_literal", "raw_string_literal", "template_string",
    "concatenated_string", "text_block", "character_literal", "char_literal", "rune_literal",
})
NUMBER_TYPES = frozenset({
    "integer", "float", "number", "decimal_integer_literal", "hex_integer_literal", "octal_integer_literal",
    "binary_integer_literal", "decimal_floating_point_literal", "int_literal", "float_literal",
    "number_literal",
})
CONST_WORDS = {"true": True, "True": True, "false": False, "False": False, "none": None, "None": None,
               "null": None, "null_literal": None, "nil": None, "undefined": None}
# identifier-like nodes that start a dotted path (os.path.join)
PATH_NAME_TYPES = frozenset({"identifier", "type_identifier", "field_identifier", "property_identifier",
                             "package_identifier", "this", "self", "namespace_identifier"})
MEMBER_TYPES = {  # node type -> (object field, member field)
    "attribute": ("object", "attribute"),
    "member_expression": ("object", "property"),
    "selector_expression": ("operand", "field"),
    "field_access": ("object", "field"),
    "field_expression": ("argument", "field"),
    "scoped_identifier": ("scope", "name"),
    "qualified_identifier": ("scope", "name"),
}
SUBSCRIPT_TYPES = {  # node type -> (container field, index field)
    "subscript": ("value", "subscript"),
    "subscript_expression": ("object", "index"),
    "array_access": ("array", "index"),
    "index_expression": ("operand", "index"),
}
CALL_TYPES = frozenset({"call", "call_expression", "method_invocation", "new_expression", "object_creation_expression"})
COMPARISON_OPS = frozenset({"==", "!=", "<", ">", "<=", ">=", "===", "!==", "is", "is not", "in", "not in",
                            "instanceof"})
VALUE_LOGICAL_OPS = frozenset({"or", "and", "||", "&&", "??"})
LIST_TYPES = frozenset({"list", "tuple", "array", "array_initializer", "expression_list", "set"})
DICT_TYPES = frozenset({"dictionary", "object"})
BOOL_METHOD = re.compile(r"^(is|has|equals|contains|startsWith|endsWith|startswith|endswith|matches|"
                         r"exists|isdigit|isalnum|isalpha|isnumeric|hasNext|hasMoreElements|size|len|length|"
                         r"count|indexOf|index|find|compareTo|hashCode)")
MUTATORS_APPEND = frozenset({"append", "add", "push", "addLast", "offer", "unshift", "addFirst", "insert", "extend",
                             "addAll", "concat", "write", "print", "println", "appendChild", "WriteString"})
MUTATORS_PUT = frozenset({"put", "set", "setdefault", "putIfAbsent", "setProperty", "setAttribute", "Set", "Add"})
GETTERS = frozenset({"get", "getOrDefault", "getProperty", "Get", "getAttribute", "item", "at", "elementAt",
                     "valueOf", "pop", "remove", "poll", "shift", "getFirst", "getLast", "peek", "firstElement",
                     "lastElement"})
CONTAINER_METHODS = GETTERS | MUTATORS_APPEND | MUTATORS_PUT
# Nesting levels followed (statements, expressions, binding patterns and helper summaries together);
# deeper parts count as unknown. Each level costs at most ~6 Python frames, so 120 levels stay well
# inside the interpreter's default recursion limit of 1,000 without changing it.
MAX_DEPTH = 120


def bounded(default=None):
    """A method of the interpreter that counts as one nesting level; past ``MAX_DEPTH`` it returns
    ``default()`` (or None) and notes that the analysis was cut short (``_truncated``)."""
    def wrap(method):
        @functools.wraps(method)
        def level(self, *args):
            if self._depth >= MAX_DEPTH:
                self._truncated += 1
                return default() if default is not None else None
            self._depth += 1
            try:
                return method(self, *args)
            finally:
                self._depth -= 1
        return level
    return wrap
HTTP_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "dispatch"})
LOCAL_SOURCE = re.compile(r"argv|environ|getenv|\benv\b|stdin|'input\(|raw_input|os\.Args|console|fileinput|"
                          r"LookupEnv|System\.in|command-line|fgets|gets|scanf|getline|readLine|nextLine|"
                          r"ReadString|ReadLine|file content|fread")


def key(node) -> tuple[int, int, int]:
    return (node.start_byte, node.end_byte, node.kind_id)


def subscript_parts(n):
    """(container, index) of a subscript node in any grammar (C names the container 'argument')."""
    cf, idf = SUBSCRIPT_TYPES[n.type]
    base = n.child_by_field_name(cf) or n.child_by_field_name("argument")
    idx = n.child_by_field_name(idf) or n.child_by_field_name("indices")
    if idx is None and base is not None:
        idx = next((c for c in n.named_children if key(c) != key(base)), None)
    if idx is not None and idx.type == "subscript_argument_list" and idx.named_children:
        idx = idx.named_children[0]
    return base, idx


def innermost_identifier(n):
    while n is not None and n.type not in ("identifier", "field_identifier"):
        n = n.child_by_field_name("declarator") or (n.named_children[0] if n.named_children else None)
    return n


def short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""The small named predicates that rule files put in ``where = [...]``.

Each takes the match context and the predicate's arguments (capture names or
string constants) and says whether the match stands. Taint predicates also
remember the source they found, which becomes the finding's related location.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from qcn.indexer.security.taint import FUNCTION_TYPES, TaintAnalysis
from qcn.indexer.security.values import UNKNOWN, Label

SECURITY_WORDS = re.compile(
    r"(?i)(token|passw|pwd|secret|nonce|salt|session|otp|auth|csrf|xsrf|remember|cookie|api_?key|apikey|"
    r"private_?key|credential|reset|verif|signature|signing|captcha|uuid|pin\b|activation|invite|encrypt|iv\b|"
    r"certif|fingerprint|integrity|tamper|hmac|thumbprint)")
SECRET_NAME = re.compile(
    r"(?i)(passw|pwd|passphrase|secret|api_?key|apikey|access_?key|auth_?token|private_?key|client_?secret|"
    r"credential|token)")
NOT_SECRET_NAME = re.compile(r"(?i)(_?(field|label|prompt|url|uri|path|file|name|type|header|param|policy|"
                             r"length|len|min|max|regex|pattern|format|hint|placeholder|key_?name|env|"
                             r"message|msg|error|id|source|kind|mode|method|scheme|prefix|suffix|location|"
                             r"algorithm|backend|class|module|style|separator|sep|char|chars)$)|"
                             r"^(token_type|password_field)")
KEY_NAME_LITERAL = re.compile(r"^_*[a-z]+(_[a-z]+)+$")
PLACEHOLDER = re.compile(r"(?i)^(|x+|\*+|\.+|changeme|change_me|your[_-].*|<.*>|\$\{.*\}|\{\{.*\}\}|%\(?.*|"
                         r"test|example|dummy|none|null|todo|fixme|\?+|redacted|secret|password|placeholder)$")


# Weaknesses where a library function's parameter is worth a hint (a caller's data reaching a query, a command,
# a format string, a URL, a header, a log line or a regex); output to a stream (XSS) or an XML API is not.
PARAMETER_CWES = frozenset({78, 88, 89, 22, 918, 113, 117, 93, 1333, 400, 134, 90})


@dataclass
class MatchContext:
    analysis: TaintAnalysis
    captures: dict  # name -> list of nodes
    cwe: int
    source_label: Label | None = None
    upgraded: bool = False  # a taint predicate found real untrusted data: raise confidence
    caller_only: bool = False  # the only untrusted data found is a public function's parameter
    negating: bool = False  # the predicate being evaluated is negated (!tainted): caller data does not count

    def node(self, name: str):
        nodes = self.captures.get(name)
        return nodes[0] if nodes else None

    def nodes(self, name: str) -> list:
        return list(self.captures.get(name, ()))

    def text(self, node) -> str:
        return self.analysis.text(node)


PredicateFn = Callable[..., bool]
REGISTRY: dict[str, PredicateFn] = {}


def predicate(fn: PredicateFn) -> PredicateFn:
    REGISTRY[fn.__name__.rstrip("_")] = fn
    return fn


def _reaching(ctx: MatchContext, name: str, remote_only: bool = False) -> list[Label]:
    out: list[Label] = []
    for n in ctx.nodes(name):
        out.extend(ctx.analysis.value_of(n).reaching(ctx.cwe, remote_only))
    return out


def _tainted(ctx: MatchContext, caps, remote_only: bool, callers: bool = True) -> bool:
    labels = [lb for cap in caps for lb in _reaching(ctx, cap, remote_only)]
    nodes = [n for cap in caps for n in ctx.nodes(cap)]
    return _accept(ctx, [lb for lb in labels if not (lb.origin.caller and _passed_whole(ctx, lb, nodes))], callers)


def _passed_whole(ctx: MatchContext, label: Label, nodes) -> bool:
    """The sink gets the public function's own parameter unchanged (``def run(cmd): os.system(cmd)``): running
    what the caller asks for is what the function is for; only data built into something is a hint."""
    origin = label.origin
    param = ctx.analysis.data[origin.start_byte:origin.end_byte].decode("utf-8", "replace")
    param = param.split(":")[0].split("=")[0].split()[0].lstrip("*&") if param.strip() else ""
    for n in nodes:
        if n.type != "identifier" or ctx.text(n) != param:
            continue
        fn = enclosing_function(n)
        if fn is None or not (fn.start_byte <= origin.start_byte < fn.end_byte):
            continue
        if _definition_text(ctx, n).strip() == param:  # not reassigned from something built
            return True
    return False


def _accept(ctx: MatchContext, labels: list[Label], callers: bool = True) -> bool:
    """Whether these reaching labels make the match stand; remembers the source and the confidence kind."""
    real = [lb for lb in labels if not lb.origin.caller]
    if real:
        ctx.source_label = real[0] if ctx.source_label is None or ctx.source_label.origin.caller else ctx.source_label
        ctx.upgraded = True
        return True
    if labels and callers and not ctx.negating and ctx.cwe in PARAMETER_CWES:
        # only a public function's parameter: a finding of its own, lower confidence (ScanOptions)
        ctx.source_label = ctx.source_label or labels[0]
        ctx.caller_only = True
        return True
    return False


@predicate
def tainted(ctx: MatchContext, *caps: str) -> bool:
    """Untrusted data (a request parameter, argv, environment, ...) reaches one of the captures, unsanitised
    for the rule's CWE."""
    return _tainted(ctx, caps, remote_only=False)


@predicate
def tainted_remote(ctx: MatchContext, *caps: str) -> bool:
    """Like tainted, but only data from the network (requests, sockets, handler parameters): for weaknesses
    that need a trust boundary the local user does not cross (path traversal)."""
    return _tainted(ctx, caps, remote_only=True)


SHELL_PROGRAM = re.compile(r"(^|[/\\])((ba|z|k|da|c|tc)?sh|cmd(\.exe)?|powershell(\.exe)?|pwsh)$", re.I)


@predicate
def shell_argv(ctx: MatchContext, cap: str) -> bool:
    """An argument list (``["sh", "-c", cmd]``, built in place or with append/insert) whose program is
    untrusted, or is a shell and untrusted data is among its arguments."""
    for n in ctx.nodes(cap):
        v = ctx.analysis.value_of(n)
        if not v.items:
            continue
        program = v.items[0]
        labels = program.reaching(ctx.cwe)
        # The program itself from a caller's parameter (``def run(cmd): call([cmd])``) is what the
        # function is for, like a parameter passed straight to a sink: only real sources count there.
        callers = False
        if not labels and isinstance(program.const, str) and SHELL_PROGRAM.search(program.const):
            labels = [lb for item in v.items[1:] for lb in item.reaching(ctx.cwe)]
            callers = True
        if _accept(ctx, sorted(labels, key=lambda lb: (lb.origin.start_byte, lb.origin.description)), callers):
            return True
    return False


@predicate
def risky_program(ctx: MatchContext, cap: str) -> bool:
    """The program an exec-style call starts is untrusted, or is a shell (so any argument is a command)."""
    if untrusted(ctx, cap):
        return True
    return const_matches(ctx, cap, r"(^|[/\\])((ba|z|k|da|c|tc)?sh|cmd(\.exe)?|powershell(\.exe)?|pwsh)$")


@predicate
def untrusted(ctx: MatchContext, cap: str) -> bool:
    """Tainted, or at least not a constant the analysis can see (for sinks dangerous with any outside data)."""
    if _tainted(ctx, (cap,), remote_only=False, callers=False):
        return True
    nodes = ctx.nodes(cap)
    if not nodes:
        return False
    for n in nodes:
        v = ctx.analysis.value_of(n)
        if any(not lb.origin.caller for lb in v.labels) or (v.labels and not v.reaching(ctx.cwe)):
            continue  # there is taint, but it was sanitised for this CWE
        if not v.safe_for(ctx.cwe) and v.kind != "request":
            return True
    return False


@predicate
def constant(ctx: MatchContext, cap: str) -> bool:
    nodes = ctx.nodes(cap)
    return bool(nodes) and all(ctx.analysis.value_of(n).is_const for n in nodes)


@predicate
def const_matches(ctx: MatchContext, cap: str, pattern: str) -> bool:
    """The capture's constant value (after folding) matches the regex (case-insensitive)."""
    rx = re.compile(pattern, re.I)
    for n in ctx.nodes(cap):
        v = ctx.analysis.value_of(n)
        if v.const is not UNKNOWN and v.const is not None and rx.search(str(v.const)):
            return True
    return False


@predicate
def text_matches(ctx: MatchContext, cap: str, pattern: str) -> bool:
    rx = re.compile(pattern)
    return any(rx.search(ctx.text(n)) for n in ctx.nodes(cap))


@predicate
def in_request_handler(ctx: MatchContext, cap: str) -> bool:
    """The capture is inside a request handler: a function with a route decorator, or a view taking
    ``request`` first."""
    n = ctx.node(cap)
    fn = enclosing_function(n) if n is not None else None
    while fn is not None:
        if ctx.analysis.is_handler(fn):
            return True
        fn = enclosing_function(fn)
    return False


STRING_METHODS = re.compile(r"^(format|format_map|join|replace|strip|lstrip|rstrip|lower|upper|title|"
                            r"capitalize|center|ljust|rjust|zfill|expandtabs|decode|substitute|safe_substitute)$")
_STRING_NODES = frozenset({"string", "concatenated_string"})


def _builds_string(ctx: MatchContext, n, depth: int = 0) -> bool:
    """A Python expression that evidently makes text: a literal or f-string, ``%``/``+`` with text in it,
    a string method (``"…".join``, ``.format``), ``str(…)``, or a conditional whose branch does."""
    if n is None or depth > 6:
        return False
    t = n.type
    if t in _STRING_NODES:
        return True
    if t == "parenthesized_expression":
        return any(_builds_string(ctx, c, depth + 1) for c in n.named_children)
    if t == "binary_operator":
        return _builds_string(ctx, n.child_by_field_name("left"), depth + 1) or \
            _builds_string(ctx, n.child_by_field_name("right"), depth + 1)
    if t == "conditional_expression":
        return any(_builds_string(ctx, c, depth + 1) for c in n.named_children)
    if t == "call":
        fn = n.child_by_field_name("function")
        if fn is not None and fn.type == "identifier":
            return ctx.text(fn) in ("str", "repr", "format")
        if fn is not None and fn.type == "attribute":
            attr = fn.child_by_field_name("attribute")
            return attr is not None and bool(STRING_METHODS.match(ctx.text(attr)))
    return False


@predicate
def string_built(ctx: MatchContext, cap: str) -> bool:
    """The capture is text the function builds (Python): an expression that makes a string, or a name whose
    assignments in the enclosing function do. A name the function never assigns (a parameter) holds in a
    decorated (routed) function; a name
    assigned only objects, dicts or other calls' results (``user = authenticate(…)``, ``proxies.copy()``)
    does not: returning those is not returning a page."""
    nodes = ctx.nodes(cap)
    if not nodes:
        return True
    for n in nodes:
        if n.type != "identifier":
            if _builds_string(ctx, n):
                return True
            continue
        fn = enclosing_function(n)
        if fn is None:
            return True
        name = ctx.text(n)
        assigned = False
        stack = [fn]
        while stack:
            m = stack.pop()
            if m.type in ("assignment", "augmented_assignment"):
                left = m.child_by_field_name("left")
                if left is not None and left.type == "identifier" and ctx.text(left) == name \
                        and left.start_byte < n.start_byte:
                    assigned = True
                    if _builds_string(ctx, m.child_by_field_name("right")):
                        return True
            stack.extend(c for c in m.named_children if c.type not in FUNCTION_TYPES)
        if not assigned:
            # A parameter: a route's path parameter is text (``@app.route("/<name>")``); what a helper that
            # merely takes ``request`` first is handed (a response, a user) is not known to be.
            outer = fn.parent
            if outer is not None and outer.type == "decorated_definition":
                return True
    return False


CONTENT_KEYWORDS = frozenset({"content", "body", "html", "text", "response", "data", "markup", "value", "s"})


@predicate
def content_argument(ctx: MatchContext, cap: str) -> bool:
    """The capture is the body of a response: a positional argument, or a keyword naming the content
    (``HttpResponse(content=…)``), not ``content_type=`` or ``status=``."""
    for n in ctx.nodes(cap):
        if n.type != "keyword_argument":
            return True
        name = n.child_by_field_name("name")
        if name is not None and ctx.text(name) in CONTENT_KEYWORDS:
            return True
    return False


@predicate
def value_type(ctx: MatchContext, cap: str, pattern: str) -> bool:
    """The capture's declared type matches the regex; holds when the pattern has no such capture."""
    nodes = ctx.nodes(cap)
    if not nodes:
        return True
    rx = re.compile(pattern)
    return any(rx.search(ctx.analysis.value_of(n).type_name or "") for n in nodes)


@predicate
def security_context(ctx: MatchContext, cap: str) -> bool:
    """The value is used for something secret: the statement or the enclosing function mentions tokens,
    passwords, sessions, cookies, salts, nonces, keys."""
    n = ctx.node(cap)
    if n is None:
        return False
    stmt = n
    while stmt.parent is not None and stmt.parent.type not in FUNCTION_TYPES and not stmt.type.endswith(
            ("statement", "declaration", "assignment")):
        stmt = stmt.parent
    if SECURITY_WORDS.search(ctx.text(stmt)):
        return True
    fn = enclosing_function(n)
    if fn is not None:
        name = fn.child_by_field_name("name")
        header = ctx.text(name) if name is not None else ""
        return bool(SECURITY_WORDS.search(header) or SECURITY_WORDS.search(ctx.text(fn)))
    return False


@predicate
def secret_name(ctx: MatchContext, cap: str) -> bool:
    """The name looks like it holds a credential (password, secret, api_key, token) and not a label for one."""
    n = ctx.node(cap)
    if n is None:
        return False
    name = ctx.text(n).strip("\"'`*& ")
    pieces = [p for p in re.split(r"[.\[\]>*&-]", name) if p.strip()]
    last = pieces[-1].strip() if pieces else name
    return bool(SECRET_NAME.search(last)) and not NOT_SECRET_NAME.search(last)


@predicate
def secret_literal(ctx: MatchContext, cap: str) -> bool:
    """A non-empty string constant that is not an obvious placeholder, template or environment lookup."""
    n = ctx.node(cap)
    if n is None:
        return False
    if n.type == "preproc_arg":  # #define NAME "literal"
        raw = ctx.text(n).strip()
        if len(raw) < 2 or raw[0] != '"' or raw[-1] != '"':
            return False
        s = raw[1:-1].strip()
    else:
        v = ctx.analysis.value_of(n)
        if not isinstance(v.const, str) or v.labels:
            return False
        s = v.const.strip()
    # A lower-case snake_case word list ("_password_reset_token", "csrf_token") names a key, it is not one.
    return len(s) >= 4 and not PLACEHOLDER.match(s) and " " not in s and not KEY_NAME_LITERAL.match(s)


@predicate
def guarded(ctx: MatchContext, cap: str, pattern: str) -> bool:
    """Before the capture, inside its function, a condition matching the regex mentions the same variable
    (``if not path.startswith(BASE): abort()``), or the capture is inside such an ``if``."""
    n = ctx.node(cap)
    fn = enclosing_function(n) if n is not None else None
    if n is None or fn is None:
        return False
    names = set(re.findall(r"[A-Za-z_]\w*", ctx.text(n))) - {"self", "this"}
    return _condition_before(ctx, n, names, re.compile(pattern))


@predicate
def has_arg(ctx: MatchContext, cap: str, pattern: str) -> bool:
    """The argument list (or call) capture contains an argument whose text matches the regex."""
    rx = re.compile(pattern)
    for n in ctx.nodes(cap):
        args = n.child_by_field_name("arguments") or n
        if any(rx.search(ctx.text(a)) for a in args.named_children):
            return True
    return False


@predicate
def min_args(ctx: MatchContext, cap: str, count: str) -> bool:
    """At least ``count`` positional arguments (response.set_cookie(key, value), not jar.set_cookie(cookie))."""
    n = ctx.node(cap)
    if n is None:
        return False
    args = n.child_by_field_name("arguments") or n
    positional = [a for a in args.named_children if "comment" not in a.type and "keyword" not in a.type]
    return len(positional) >= int(count)


@predicate
def file_mentions(ctx: MatchContext, pattern: str) -> bool:
    """The document text matches the regex (an import, a framework marker)."""
    return re.search(pattern, ctx.analysis.data.decode("utf-8", "replace"), re.M) is not None


# Secrets a file may hold: a file created with loose permissions for these is readable by other users.
SECRET_FILE_WORDS = re.compile(r"(?i)(secret|private|passw|token|credential|\.pem\b|\.key\b|id_rsa|id_ed25519|"
                               r"keyfile|key_file|api_?key|keystore|wallet|\.p12\b)")
# An innermost group, then a quantifier that repeats it: (a+)+, (\w*)*, (x+){2,}
QUANTIFIED_GROUP = re.compile(r"\(((?:[^()\\]|\\.)*)\)(?:[+*]|\{\d+,\d*\})")
REGEX_ATOM = re.compile(r"(\\.|\[\^?\]?(?:[^\]\\]|\\.)*\]|.)([+*?]|\{\d*(?:,\d*)?\})?", re.S)


ASCII = [chr(c) for c in range(32, 127)] + ["\t", "\n"]


@functools.cache
def _atom_chars(atom: str) -> frozenset[str]:
    """The printable ASCII characters one regex atom matches (every character when it does not compile)."""
    try:
        rx = re.compile(atom)
    except re.error:
        return frozenset(ASCII)
    return frozenset(c for c in ASCII if rx.fullmatch(c))


def _ambiguous_repeat(body: str) -> bool:
    """A repeated group body that holds an unbounded quantifier and no mandatory atom disjoint from what the
    repeated parts match, so one input splits into iterations in many ways ((a+)+, (\\w+\\s?)*), unlike
    (\\.\\w+)* or (\\s\\w+)*, whose every iteration starts with a character the rest cannot match."""
    body = re.sub(r"^\?(:|<?[=!]|P?<\w+>)", "", body)
    atoms = REGEX_ATOM.findall(body)
    if any(atom == "|" for atom, _ in atoms):  # each alternative on its own: (\\d+|\\w+)* yes, (\\.\\w+|,\\d+)* no
        branches, current = [], []
        for atom, q in atoms:
            if atom == "|":
                branches.append(current)
                current = []
            else:
                current.append((atom, q))
        branches.append(current)
        return any(_ambiguous_atoms(b) for b in branches)
    return _ambiguous_atoms(atoms)


def _ambiguous_atoms(atoms) -> bool:
    loose: set[str] = set()  # what the repeated and optional atoms match
    once: list[frozenset[str]] = []  # what each mandatory, unrepeated atom matches
    unbounded = False
    for atom, q in atoms:
        if atom in ("^", "$"):
            continue
        chars = _atom_chars(atom)
        if q == "" or re.fullmatch(r"\{[1-9]\d*\}", q):
            once.append(chars)
            continue
        loose |= chars
        unbounded = unbounded or q in ("+", "*") or bool(re.fullmatch(r"\{\d+,\}", q))
    return unbounded and not any(chars and not chars & loose for chars in once)


# Values that are the same on every run when used as an IV, nonce or salt: literals and zero-filled buffers.
FIXED_BYTES = re.compile(r"""^\s*(b?r?["'`].*["'`](\s*\*\s*\d+)?|bytes\(\s*\d+\s*\)|bytearray\(\s*\d+\s*\)|"""
                         r"""Buffer\.alloc\(\s*\d+\s*(,\s*0\s*)?\)|Buffer\.from\(\s*["'`\[].*|"""
                         r"""new\s+Uint8Array\(\s*\d+\s*\)|make\(\s*\[\]byte\s*,[^,()]*(\(\))?\s*\)|\[\]byte\(\s*".*"\s*\)|"""
                         r"""\[\]byte\s*\{[\d\s,x]*\}|new\s+byte\s*\[\s*\d+\s*\]|\"[^"]*\"\.getBytes\(.*\))\s*;?\s*$""")


def _int_const(ctx: MatchContext, node) -> int | None:
    v = ctx.analysis.value_of(node)
    if isinstance(v.const, bool) or v.labels:
        return None
    if isinstance(v.const, int):
        return v.const
    if isinstance(v.const, float) and v.const.is_integer():
        return int(v.const)
    return None


@predicate
def const_below(ctx: MatchContext, cap: str, limit: str) -> bool:
    """The capture folds to an integer constant below ``limit`` (an RSA key size of 1024 < 2048)."""
    values = [_int_const(ctx, n) for n in ctx.nodes(cap)]
    return any(v is not None and v < int(limit, 0) for v in values)


@predicate
def mode_allows(ctx: MatchContext, cap: str, mask: str) -> bool:
    """A file mode constant grants some of the permission bits in ``mask`` (0o002: world-writable)."""
    values = [_int_const(ctx, n) for n in ctx.nodes(cap)]
    return any(v is not None and v & int(mask, 0) for v in values)


@predicate
def umask_allows(ctx: MatchContext, cap: str, mask: str) -> bool:
    """A umask constant leaves some of the bits in ``mask`` on for new files (umask(0o022) keeps 0o044)."""
    values = [_int_const(ctx, n) for n in ctx.nodes(cap)]
    return any(v is not None and ~v & int(mask, 0) for v in values)


@predicate
def secret_file_context(ctx: MatchContext, cap: str) -> bool:
    """The enclosing function (or, at top level, the statement) deals with a secret file: keys, tokens,
    passwords, credentials."""
    n = ctx.node(cap)
    if n is None:
        return False
    fn = enclosing_function(n)
    scope = fn if fn is not None else n
    return bool(SECRET_FILE_WORDS.search(ctx.text(scope)))


def _pattern_text(ctx: MatchContext, node) -> str | None:
    if node.type == "regex":  # a JavaScript /.../ literal
        pattern = node.child_by_field_name("pattern")
        return ctx.text(pattern) if pattern is not None else ctx.text(node)
    v = ctx.analysis.value_of(node)
    return v.const if isinstance(v.const, str) and not v.labels else None


@predicate
def nested_quantifier(ctx: MatchContext, cap: str) -> bool:
    """The regular expression (a constant or a regex literal) quantifies a group that holds a quantifier,
    like ``(a+)+``: backtracking engines take exponential time on a near-miss."""
    for n in ctx.nodes(cap):
        text = _pattern_text(ctx, n)
        if text and any(_ambiguous_repeat(m.group(1)) for m in QUANTIFIED_GROUP.finditer(text)):
            return True
    return False


RANDOM_FILL = r"(Read|ReadFull|nextBytes|RAND_bytes|RAND_priv_bytes|randomFill|randomFillSync|getRandomValues|" \
              r"readinto|getrandom|arc4random_buf)\s*\([^;\n]*\b{name}\b"


def _definition_text(ctx: MatchContext, node) -> str:
    """The expression's text; for a plain name, the right-hand side of its last assignment before it, unless
    a random fill (io.ReadFull(rand.Reader, iv), random.nextBytes(iv), RAND_bytes(iv, n)) comes between."""
    text = ctx.text(node)
    if node.type not in ("identifier", "attribute", "member_expression", "selector_expression", "field_access"):
        return text
    before = ctx.analysis.data[:node.start_byte].decode("utf-8", "replace")
    name = re.escape(text)
    found = None
    for m in re.finditer(rf"(?m)(?<![\w.]){name}\s*(?::\s*[\w.<>\[\]| ]+?)?\s*(?::=|=(?!=))\s*([^\n]+)$", before):
        found = m
    if found is None:
        return text
    if re.search(RANDOM_FILL.format(name=name), before[found.end():]):
        return text
    return found.group(1)


@predicate
def fixed_bytes(ctx: MatchContext, cap: str) -> bool:
    """The value is the same on every run: a constant, a literal, or a zero-filled buffer (bytes(16),
    Buffer.alloc(16), make([]byte, n), new byte[16]) that no random fill reaches; for IVs, nonces and
    salts."""
    for n in ctx.nodes(cap):
        v = ctx.analysis.value_of(n)
        if v.labels:
            continue
        # an empty container (new byte[16]) is "constant" to the folder but may be filled later: ask the text
        filled_const = v.const is not UNKNOWN or (v.is_const and bool(v.items or v.keys))
        if filled_const or FIXED_BYTES.match(_definition_text(ctx, n)):
            return True
    return False


@predicate
def same_text(ctx: MatchContext, a: str, b: str) -> bool:
    """Two captures are the same expression, spaces aside (strncpy(dst, src, strlen(src)))."""
    na, nb = ctx.node(a), ctx.node(b)
    if na is None or nb is None:
        return False
    return re.sub(r"\s+", "", ctx.text(na)) == re.sub(r"\s+", "", ctx.text(nb))


@predicate
def unchecked_result(ctx: MatchContext, var: str) -> bool:
    """The variable an allocation was stored in is used in its function (indexed, dereferenced, written
    through by a copy call) and never compared with NULL (``if (!p)``, ``p == NULL``, ``assert(p)``)."""
    n = ctx.node(var)
    fn = enclosing_function(n) if n is not None else None
    if n is None or fn is None:
        return False
    name = re.escape(ctx.text(n))
    after = ctx.analysis.data[n.end_byte:fn.end_byte].decode("utf-8", "replace")
    checked = (rf"(\bif|\bwhile|\bassert|\bunlikely|\blikely|\bCHECK\w*|\bREQUIRE\w*|&&|\|\||\?)\s*\(*\s*!?\s*{name}\s*[)&|?]|"
               rf"\b{name}\s*[!=]=\s*(NULL|0|nullptr)\b|\b(NULL|nullptr)\s*[!=]=\s*{name}\b")
    if re.search(checked, after):
        return False
    used = (rf"\b{name}\s*(\[|->)|\*\s*{name}\b|\b(mem(cpy|move|set)|str(n?cpy|n?cat)|sprintf|snprintf|fgets|fread|"
            rf"read|recv)\s*\(\s*{name}\b")
    return re.search(used, after) is not None


@predicate
def tainted_url(ctx: MatchContext, cap: str) -> bool:
    """Like tainted, but a public function's parameter counts only when the URL is built from it
    (``f"http://{host}/x"``): a URL the caller passes whole is the caller's choice, which is what an HTTP
    helper is for."""
    if _tainted(ctx, (cap,), remote_only=False, callers=False):
        return True
    built = any(not re.fullmatch(r"[\w.]+", _definition_text(ctx, n).strip()) for n in ctx.nodes(cap))
    return built and _tainted(ctx, (cap,), remote_only=False)


FIXED_HOST = re.compile(r"""^\s*(f|`|r|b)?["'`]?(https?|wss?|ftp)://[^/{}$"'`+%]+/""", re.I)


@predicate
def fixed_host(ctx: MatchContext, cap: str) -> bool:
    """The URL starts with a literal scheme and host (``f"https://api.example.com/{id}"``, also through the
    name's last assignment): untrusted data only chooses the path, not the server (not SSRF)."""
    for n in ctx.nodes(cap):
        if FIXED_HOST.match(_definition_text(ctx, n)):
            return True
        v = ctx.analysis.value_of(n)
        if isinstance(v.const, str) and FIXED_HOST.match(v.const):
            return True
    return False


@predicate
def function_mentions(ctx: MatchContext, cap: str, pattern: str) -> bool:
    """The function around the capture matches the regex (``Content-Type", "text/plain``)."""
    n = ctx.node(cap)
    fn = enclosing_function(n) if n is not None else None
    return fn is not None and re.search(pattern, ctx.text(fn)) is not None


def enclosing_function(n):
    p = n.parent if n is not None else None
    while p is not None and p.type not in FUNCTION_TYPES:
        p = p.parent
    return p


# ---------------------------------------------------------------- issue #16: archives, XPath, SQL drivers, HTML
# (Go/JS/Python predicates for zip slip, guarded XPath values, sqlite-style driver calls and returned markup;
# one block, kept apart from the other languages' additions.)

_ASSIGNMENT_LINE = re.compile(rb"(?m)(?<![\w.$])([A-Za-z_$][\w$]*)[ \t]*(?::[ \t]*[\w.<>\[\]| ]+?)?[ \t]*(?::=|=(?!=))[ \t]*([^\n]+)$")


def _assignments(ctx: MatchContext) -> dict[str, tuple[list[int], list[str]]]:
    """Every ``name = …`` / ``name := …`` line of the file, by name: (byte positions, right-hand sides), read
    in one pass per file (a search of the text before each use made a large file quadratic)."""
    a = ctx.analysis
    index = getattr(a, "_assignment_lines", None)
    if index is None:
        index = {}
        for m in _ASSIGNMENT_LINE.finditer(a.data):
            pos, rhs = index.setdefault(m.group(1).decode("ascii"), ([], []))
            pos.append(m.start())
            rhs.append(m.group(2).decode("utf-8", "replace").rstrip("\r"))
        a._assignment_lines = index
    return index


def _last_assignment(ctx: MatchContext, name: str, before: int) -> str | None:
    """The right-hand side of the last assignment to ``name`` (``x := ...``, ``x = ...``, ``const x = ...``)
    in the text before byte ``before``."""
    entry = _assignments(ctx).get(name)
    if entry is None:
        return None
    i = bisect.bisect_left(entry[0], before) - 1
    if i < 0 or len(entry[1][i]) > 600:  # a minified line is not one assignment
        return None
    return entry[1][i]


def _expanded_text(ctx: MatchContext, node, hops: int = 2) -> str:
    """The expression's text followed by the definitions of the names in it, ``hops`` assignments deep
    (``target := filepath.Join(dest, name)`` after ``name := hdr.Name`` gives both right-hand sides)."""
    parts = [ctx.text(node)]
    seen: set[str] = set()
    frontier = set(re.findall(r"(?<![\w.])[A-Za-z_]\w*", parts[0]))
    for _ in range(hops):
        nxt: set[str] = set()
        for name in sorted(frontier - seen):
            seen.add(name)
            rhs = _last_assignment(ctx, name, node.start_byte)
            if rhs:
                parts.append(rhs)
                nxt |= set(re.findall(r"(?<![\w.])[A-Za-z_]\w*", rhs))
        frontier = nxt
    return "\n".join(parts)


def _condition_before(ctx: MatchContext, n, names: set[str], rx) -> bool:
    """A condition (if/while/ternary) before ``n`` in its function matches ``rx`` and mentions one of ``names``."""
    fn = enclosing_function(n)
    if fn is None:
        return False
    stack = [fn]
    while stack:
        c = stack.pop()
        if c.start_byte > n.start_byte:
            continue
        if c.type in ("if_statement", "if_expression", "conditional_expression", "ternary_expression",
                      "while_statement", "assert_statement", "elif_clause"):
            cond = c.child_by_field_name("condition")
            text = ctx.text(cond) if cond is not None else ctx.text(c)[:400]
            if rx.search(text) and names & set(re.findall(r"[A-Za-z_]\w*", text)):
                return True
        stack.extend(c.named_children)
    return False


@predicate
def guarded_value(ctx: MatchContext, cap: str, pattern: str) -> bool:
    """Like guarded, but the condition may name the capture or a variable it was built from
    (``if strings.ContainsAny(name, "'\\"") { return }`` before ``expr := fmt.Sprintf(..., name)``)."""
    n = ctx.node(cap)
    if n is None:
        return False
    names = set(re.findall(r"[A-Za-z_]\w*", _expanded_text(ctx, n))) - {"self", "this", "fmt", "Sprintf",
                                                                        "strings", "filepath", "path", "Join"}
    return _condition_before(ctx, n, names, re.compile(pattern))


# Go archive entries: `hdr, err := tr.Next()` (archive/tar), `for _, f := range zr.File` (archive/zip), or a
# parameter typed *tar.Header / *zip.File.
GO_ARCHIVE_ENTRY = (re.compile(r"(?<![\w.])(\w+)\s*,\s*\w+\s*:?=\s*[\w.]+\.Next\(\)"),
                    re.compile(r"\bfor\s+\w+\s*,\s*(\w+)\s*:?=\s*range\s+[\w.]+\.File\b"),
                    re.compile(r"\b(\w+)\s+\*(?:tar\.Header|zip\.File)\b"))
# JS archive entries: adm-zip/yauzl/unzipper/tar-stream entry objects and their name fields
JS_ARCHIVE_NAME = re.compile(r"\b\w+\.(entryName|fileName)\b|\b(header|hdr|entry)\.(name|path)\b")
# a check that the entry stays inside the destination folder, or a name made safe
ARCHIVE_CHECK = re.compile(r"HasPrefix|IsLocal|\bRel\(|startsWith|relative\(|\.\.|isAbsolute|IsAbs|"
                           r"(?i:safe|valid|inside|within|contained|escapes|traversal|zipslip|slip)\w*\(")


@predicate
def archive_entry_path(ctx: MatchContext, cap: str) -> bool:
    """The path is an archive entry's own name joined to (or appended to) a folder: ``filepath.Join(dest,
    hdr.Name)`` with ``hdr`` from ``tar.Reader.Next()`` or a ``zip.File``, ``path.join(dir, entry.entryName)``;
    not one reduced to its base name (``filepath.Base(f.Name)``)."""
    n = ctx.node(cap)
    fn = enclosing_function(n) if n is not None else None
    if n is None or fn is None:
        return False
    expanded = _expanded_text(ctx, n)
    if re.search(r"\b(Base|basename)\(\s*[\w.]+\.(Name|entryName|fileName|name|path)\s*[),]", expanded):
        return False  # the entry's own name reduced to its last element
    if not re.search(r"\bJoin\(|\bjoin\(|\bresolve\(|\+", expanded):
        return False
    fn_text = ctx.text(fn)
    entries = {m.group(1) for rx in GO_ARCHIVE_ENTRY for m in rx.finditer(fn_text)}
    if any(re.search(rf"(?<![\w.]){re.escape(e)}\.(Name|Linkname)\b", expanded) for e in entries):
        return True
    return bool(JS_ARCHIVE_NAME.search(expanded)) and bool(re.search(r"\bjoin\(|\bresolve\(|\+", expanded))


@predicate
def archive_path_checked(ctx: MatchContext, cap: str) -> bool:
    """Before the write, a condition on the path or on the entry name keeps it inside the folder:
    ``strings.HasPrefix(target, dest+string(os.PathSeparator))``, ``filepath.IsLocal(hdr.Name)``,
    ``strings.Contains(hdr.Name, "..")``, ``filepath.Rel``, ``full.startsWith(root + path.sep)``, or a helper
    named like a check (``isSafePath(target)``)."""
    n = ctx.node(cap)
    if n is None:
        return False
    names = set(re.findall(r"[A-Za-z_]\w*", _expanded_text(ctx, n))) - {
        "filepath", "path", "Join", "join", "resolve", "os", "string", "PathSeparator"}
    return _condition_before(ctx, n, names, ARCHIVE_CHECK)


SQL_TEXT = re.compile(r"(?is)\b(select\b.+\bfrom|insert\s+(or\s+\w+\s+)?into|update\b.+\bset|delete\s+from|"
                      r"replace\s+into|create\s+(table|index|view|trigger)|drop\s+(table|index|view)|alter\s+table|"
                      r"pragma\s)\b")
DB_RECEIVER = re.compile(r"(?i)^(db|database|sqlite3?|conn|connection|pool|client|pg|mysql|knex|sql|store|stmt)$|"
                         r"(db|database|conn|pool|sqlite)$")
DB_CONSTRUCTOR = re.compile(r"new\s+(sqlite3?\.)?Database\s*\(|require\(\s*['\"]better-sqlite3['\"]\s*\)\s*\(|"
                            r"\b(open|createPool|createConnection|Pool|Client)\s*\(\s*\{?[^)]*(filename|driver|"
                            r"host|connectionString|database)|new\s+(pg\.)?(Pool|Client)\s*\(")


@predicate
def sql_text(ctx: MatchContext, cap: str) -> bool:
    """The value's text, or what it was built from (its last assignments), holds SQL: a SELECT ... FROM,
    INSERT INTO, UPDATE ... SET, DELETE FROM, CREATE/DROP TABLE, ... (not a cache key or a URL)."""
    return any(SQL_TEXT.search(_expanded_text(ctx, n)) for n in ctx.nodes(cap))


@predicate
def database_receiver(ctx: MatchContext, cap: str) -> bool:
    """The call's receiver is a database handle: named like one (``db``, ``conn``, ``pool``, ``this.db``,
    ``userDb``) or assigned from ``new sqlite3.Database(...)``, ``require("better-sqlite3")(...)``,
    ``new pg.Pool(...)``."""
    for n in ctx.nodes(cap):
        text = ctx.text(n)
        last = re.split(r"[.\s]", text.strip())[-1]
        if DB_RECEIVER.search(last):
            return True
        rhs = _last_assignment(ctx, last, n.start_byte) if re.fullmatch(r"[A-Za-z_$][\w$]*", last) else None
        if rhs and DB_CONSTRUCTOR.search(rhs):
            return True
    return False


HTML_TAG = re.compile(r"(?i)<(h[1-6]|p|div|span|a|b|i|u|em|strong|small|li|ul|ol|dl|dt|dd|td|th|tr|table|html|"
                      r"body|head|title|script|style|img|input|form|label|button|option|select|textarea|br|hr|"
                      r"section|article|header|footer|nav|main|code|pre|blockquote|iframe|link|meta)\b[^<>]*>?")


def _markup_text(ctx: MatchContext, node) -> str:
    """The value's expanded text, leaving out callbacks inside it (``parts.map(p => `<b>${esc(p)}</b>`)``):
    their own returns are matched on their own, and the taint that passes the call is the receiver's."""
    holes = []
    stack = list(node.named_children)
    while stack:
        c = stack.pop()
        if c.type in FUNCTION_TYPES:
            holes.append((c.start_byte - node.start_byte, c.end_byte - node.start_byte))
        else:
            stack.extend(c.named_children)
    if not holes:
        return _expanded_text(ctx, node)
    raw = ctx.analysis.data[node.start_byte:node.end_byte]
    for a, b in sorted(holes, reverse=True):
        raw = raw[:a] + b"_" + raw[b:]
    return raw.decode("utf-8", "replace")


def _scalar_default(ctx: MatchContext, label: Label) -> bool:
    """The parameter has a number or boolean default (``offset = 0``): a count or flag, not text."""
    o = label.origin
    param = ctx.analysis.data[o.start_byte:o.end_byte].decode("utf-8", "replace")
    return re.search(r"=\s*(-?\d[\d_.]*|true|false)\s*$", param) is not None


@predicate
def markup_from_parameter(ctx: MatchContext, cap: str) -> bool:
    """The value is HTML (a literal with a tag in it, or built from one) and a public function's parameter
    reaches it unescaped: a caller that serves the result serves the parameter as markup. A hint only (the
    finding is parameter-sourced, low confidence); data from a real source is reported where it is written."""
    nodes = ctx.nodes(cap)
    if not nodes or not any(HTML_TAG.search(_markup_text(ctx, n)) for n in nodes):
        return False
    labels = [lb for n in nodes for lb in ctx.analysis.value_of(n).reaching(79)
              if lb.origin.caller and not _passed_whole(ctx, lb, nodes) and not _scalar_default(ctx, lb)]
    if not labels or ctx.negating:
        return False
    ctx.source_label = ctx.source_label or labels[0]
    ctx.caller_only = True
    return True


FORMATTED_FIXED_HOST = re.compile(r"""^\s*(fmt\.Sprintf|String\.format|format|util\.format)\(\s*["'`](https?|wss?|ftp)://"""
                                  r"""[^/{}$"'`+%]+/""", re.I)


@predicate
def fixed_host_format(ctx: MatchContext, cap: str) -> bool:
    """Like fixed_host, for a URL made by a format call whose format string starts with a literal scheme and
    host (``fmt.Sprintf("https://api.example.com/items/%s", id)``): the values only fill the path or query."""
    return any(FORMATTED_FIXED_HOST.match(_definition_text(ctx, n)) for n in ctx.nodes(cap))


# ---------------------------------------------------------------- C/C++: numbers from input, bounds, strings
# The predicates below read C and C++ trees (issue #16): an index or size parsed from input (atoi/strtol/sscanf,
# which the taint engine counts as sanitisers because they end string injection, not a bad number), the checks
# that bound it, buffers left without a NUL, and paths joined from a folder and a name.

C_NUMBER_PARSERS = re.compile(r"^(std::)?(atoi|atol|atoll|strtol|strtoul|strtoll|strtoull|strtoimax|strtoumax|"
                              r"stoi|stol|stoll|stoul|stoull|ntohl|ntohs|be32toh|be16toh|le32toh|le16toh)$")
C_SCANF = {"sscanf": 0, "swscanf": 0}  # scanner -> index of its input text (scanf/fscanf are taint sources)
C_UNSIGNED = re.compile(r"\b(unsigned|size_t|u_?int\d*(_t)?|uint|u8|u16|u32|u64|DWORD|WORD|BYTE|UINT\w*|ULONG|"
                        r"USHORT|uintptr_t|uintmax_t)\b")
C_LENGTH_CALLS = re.compile(r"^(strlen|wcslen|strnlen|read|recv|recvfrom|fread|pread|getline|getdelim)$")
_C_DECL_TYPES = ("declaration", "parameter_declaration", "field_declaration")


def _c_nodes(node, skip=("sizeof_expression",)):
    """The node and its descendants in document order, not entering ``skip`` node types."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if n.type not in skip:
            stack.extend(reversed(n.children))


def _c_fn_name(ctx: MatchContext, call) -> str:
    fn = call.child_by_field_name("function")
    return ctx.text(fn) if fn is not None else ""


def _c_args(call) -> list:
    args = call.child_by_field_name("arguments")
    return [a for a in args.named_children if a.type != "comment"] if args is not None else []


def _c_declarator_name(d):
    """(identifier node, array size node or None) of a declarator, through init/pointer/array wrappers."""
    size = None
    while d is not None and d.type != "identifier":
        if d.type == "array_declarator" and size is None:
            size = d.child_by_field_name("size") or d
        if d.type in ("init_declarator", "pointer_declarator", "array_declarator", "parenthesized_declarator",
                      "reference_declarator", "attributed_declarator"):
            d = d.child_by_field_name("declarator") or (d.named_children[0] if d.named_children else None)
        else:
            return None, None
    return d, size


def _c_index(ctx: MatchContext, fn) -> dict:
    """Per function (cached on the analysis): name -> [(start, end, kind, node)] for its definitions
    (``kind`` "value": an initialiser or ``=``; "scan": sscanf filling ``&name``; "other": ``+=``, ``++``), and
    name -> (type text, array size node, declaration node)."""
    cache = ctx.analysis.__dict__.setdefault("_c_def_index", {})
    k = (fn.start_byte, fn.end_byte)
    if k in cache:
        return cache[k]
    defs: dict[str, list] = {}
    decls: dict[str, tuple] = {}
    for n in _c_nodes(fn, skip=()):
        t = n.type
        if t in _C_DECL_TYPES:
            type_node = n.child_by_field_name("type")
            type_text = " ".join(ctx.text(c) for c in n.children
                                 if c.type in ("type_qualifier", "storage_class_specifier")) + " " + (
                ctx.text(type_node) if type_node is not None else "")
            for d in n.children_by_field_name("declarator"):
                ident, size = _c_declarator_name(d)
                if ident is None:
                    continue
                decls.setdefault(ctx.text(ident), (type_text.strip(), size, n, d))
                if d.type == "init_declarator" and d.child_by_field_name("value") is not None:
                    defs.setdefault(ctx.text(ident), []).append((n.start_byte, n.end_byte, "value",
                                                                 d.child_by_field_name("value")))
        elif t == "assignment_expression":
            left = n.child_by_field_name("left")
            if left is not None and left.type == "identifier":
                op = n.child_by_field_name("operator")
                kind = "value" if op is not None and ctx.text(op) == "=" else "other"
                defs.setdefault(ctx.text(left), []).append((n.start_byte, n.end_byte, kind,
                                                            n.child_by_field_name("right")))
        elif t == "update_expression":
            arg = n.child_by_field_name("argument")
            if arg is not None and arg.type == "identifier":
                defs.setdefault(ctx.text(arg), []).append((n.start_byte, n.end_byte, "other", None))
        elif t == "call_expression":
            name = _c_fn_name(ctx, n)
            kind = "scan" if name in C_SCANF or name in ("scanf", "fscanf") else "out"
            for a in _c_args(n):
                if a.type == "pointer_expression" and ctx.text(a).startswith("&") and a.named_children and \
                        a.named_children[-1].type == "identifier":
                    defs.setdefault(ctx.text(a.named_children[-1]), []).append((n.start_byte, n.end_byte, kind, n))
    cache[k] = (defs, decls)
    return cache[k]


def _c_top_decl(ctx: MatchContext, name: str):
    """A file-level declaration of ``name`` (a global table), as _c_index gives them."""
    cache = ctx.analysis.__dict__.setdefault("_c_top_decls", None)
    if cache is None:
        cache = {}
        for n in ctx.analysis.root.named_children:
            if n.type in _C_DECL_TYPES:
                type_node = n.child_by_field_name("type")
                for d in n.children_by_field_name("declarator"):
                    ident, size = _c_declarator_name(d)
                    if ident is not None:
                        cache.setdefault(ctx.text(ident), (ctx.text(type_node) if type_node else "", size, n, d))
        ctx.analysis.__dict__["_c_top_decls"] = cache
    return cache.get(name)


def _c_declaration(ctx: MatchContext, ident):
    fn = enclosing_function(ident)
    name = ctx.text(ident)
    if fn is not None:
        found = _c_index(ctx, fn)[1].get(name)
        if found is not None:
            return found
    return _c_top_decl(ctx, name)


def _c_last_definition(ctx: MatchContext, ident):
    """The last definition of the identifier before it in its function: (kind, node) or None."""
    fn = enclosing_function(ident)
    if fn is None:
        return None
    best = None
    for start, end, kind, node in _c_index(ctx, fn)[0].get(ctx.text(ident), ()):
        if kind == "other":
            continue  # n++, n -= k: the value still comes from the definition before
        if end <= ident.start_byte and (best is None or start >= best[0]):
            best = (start, kind, node)
    return (best[1], best[2]) if best else None


def _c_input_labels(ctx: MatchContext, node, depth: int = 0, idents: list | None = None) -> list[Label]:
    """Labels of outside data a number comes from: a number parser (atoi, strtol, ntohl, sscanf) applied to
    tainted text, or a tainted number variable, followed through the names' last definitions. A call other
    than a parser gives no number from input (strlen or strcspn of input is bounded by the buffer); a buffer
    indexed in place (``table[buf[i]]``) does not count, a number stored from it (``len = hdr[0]``) does. The
    identifiers found to carry such data are appended to ``idents``."""
    out: list[Label] = []
    masked = [m for m in _c_nodes(node, skip=("sizeof_expression", "call_expression"))
              if m.type == "binary_expression" and ctx.text(m.child_by_field_name("operator")) == "&"]
    for n in _c_nodes(node, skip=("sizeof_expression", "call_expression")):
        if any(m.start_byte <= n.start_byte and n.end_byte <= m.end_byte for m in masked):
            continue  # n & 0xff: bounded by the mask
        if n.type == "call_expression":
            if C_NUMBER_PARSERS.match(_c_fn_name(ctx, n)):
                args = _c_args(n)
                if args:
                    out.extend(ctx.analysis.value_of(args[0]).reaching(ctx.cwe))
            continue
        if n.type != "identifier":
            continue
        decl = _c_declaration(ctx, n)
        if decl is not None and (decl[1] is not None or decl[3].type == "pointer_declarator" or
                                 (decl[3].type == "init_declarator" and decl[3].child_by_field_name("declarator")
                                  is not None and decl[3].child_by_field_name("declarator").type != "identifier")):
            if depth == 0:
                continue  # a buffer or pointer, not a number
        direct = ctx.analysis.value_of(n).reaching(ctx.cwe)
        d = _c_last_definition(ctx, n)
        if d is not None and d[0] == "value" and d[1] is not None and depth < 3:
            found = _c_input_labels(ctx, d[1], depth + 1)
        elif d is not None and d[0] == "scan":
            call = d[1]
            name = _c_fn_name(ctx, call)
            args = _c_args(call)
            found = list(ctx.analysis.value_of(args[C_SCANF[name]]).reaching(ctx.cwe)) if name in C_SCANF and args \
                else list(direct)
        else:
            found = list(direct)
        if found:
            out.extend(found)
            if idents is not None:
                idents.append(n)
    return out


C_CONDITION_TYPES = ("if_statement", "while_statement", "for_statement", "do_statement", "conditional_expression",
                     "case_statement")


def _c_conditions(ctx: MatchContext, node) -> list:
    """Condition nodes in the node's function that start before it (if/while/for/?:, assert(...)), and the
    left operands of ``&&``/``||`` on the way up from it."""
    fn = enclosing_function(node)
    if fn is None:
        return []
    cache = ctx.analysis.__dict__.setdefault("_c_conditions", {})
    k = (fn.start_byte, fn.end_byte)
    if k not in cache:
        conds = []
        for n in _c_nodes(fn, skip=()):
            if n.type in C_CONDITION_TYPES:
                c = n.child_by_field_name("condition") or n.child_by_field_name("value")
                if c is not None:
                    conds.append(c)
            elif n.type == "call_expression" and re.match(r"^(assert|ASSERT\w*|g_assert|CHECK\w*|REQUIRE\w*)$",
                                                          _c_fn_name(ctx, n)):
                conds.append(n)
            elif n.type == "binary_expression" and ctx.text(n.child_by_field_name("operator")) in ("&&", "||"):
                conds.append(n.child_by_field_name("left"))
        cache[k] = conds
    return [c for c in cache[k] if c.start_byte < node.start_byte]


NEGATIVE_OR_ZERO = re.compile(r"^\(?\s*(-\s*1|0|'\\0'|0[uU]?[lL]*|-1[lL]?)\s*\)?$")


def _c_comparisons(ctx: MatchContext, cond, name: str):
    """(operator with the variable on the left, the other side's text) for each comparison in the condition
    that has the variable on one side; ``("call", "")`` where the variable is passed to a function there
    (a validator), ``("truth", "")`` where the variable itself is tested (``if (!n)``, ``n && ...``)."""
    flip = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!="}
    word = re.compile(rf"\b{re.escape(name)}\b")
    for n in _c_nodes(cond):
        if n.type == "binary_expression":
            op_node = n.child_by_field_name("operator")
            op = ctx.text(op_node) if op_node is not None else ""
            left, right = n.child_by_field_name("left"), n.child_by_field_name("right")
            if left is None or right is None:
                continue
            if op in flip:
                if _c_is_name(ctx, left, name) and not word.search(ctx.text(right)):
                    yield op, ctx.text(right)
                elif _c_is_name(ctx, right, name) and not word.search(ctx.text(left)):
                    yield flip[op], ctx.text(left)
            elif op in ("&&", "||"):
                for side in (left, right):
                    if _c_is_name(ctx, side, name):
                        yield "truth", ""
        elif n.type == "call_expression" and not re.match(r"^(strlen|wcslen|sizeof)$", _c_fn_name(ctx, n)):
            if any(_c_is_name(ctx, a, name) for a in _c_args(n)):
                yield "call", ""
        elif n.type == "unary_expression" and ctx.text(n).startswith("!") and _c_is_name(ctx, n.named_children[-1], name):
            yield "truth", ""
    if _c_is_name(ctx, cond, name):
        yield "truth", ""


def _c_is_name(ctx: MatchContext, n, name: str) -> bool:
    while n is not None and n.type in ("parenthesized_expression", "cast_expression", "condition_clause"):
        n = n.named_children[-1] if n.named_children else None
    return n is not None and n.type == "identifier" and ctx.text(n) == name


def _c_bounded(ctx: MatchContext, ident, use, need_lower: bool) -> bool:
    """A condition before ``use`` bounds the variable from above (``idx >= N``, ``idx < N``), and from below
    when ``need_lower`` (``idx < 0``, ``idx >= 0``) unless the variable is unsigned; a validator call taking it
    counts as both."""
    name = ctx.text(ident)
    upper = lower = False
    for cond in _c_conditions(ctx, use):
        for op, other in _c_comparisons(ctx, cond, name):
            if op == "call":
                return True
            if op in ("<", "<=", ">", ">="):
                if NEGATIVE_OR_ZERO.match(other.strip()) or other.strip() == "1":
                    lower = True
                else:
                    upper = True
    if upper and not need_lower:
        return True
    if upper and not lower:
        decl = _c_declaration(ctx, ident)
        lower = decl is not None and bool(C_UNSIGNED.search(decl[0]))
    return upper and lower


def _c_masked(ctx: MatchContext, expr) -> bool:
    """The index is reduced into range by itself: ``i & 0xff``, ``i % N`` of an unsigned, a cast to unsigned
    char."""
    text = ctx.text(expr)
    return bool(re.search(r"&\s*(0x[0-9a-fA-F]+|\w+)\s*\)?\s*$|^\(\s*(unsigned\s+char|uint8_t|u8|BYTE)\s*\)", text))


def _c_subscript_index(n):
    idx = n.child_by_field_name("index")
    if idx is None:  # C++: indices: (subscript_argument_list ...)
        lst = n.child_by_field_name("indices")
        idx = lst.named_children[0] if lst is not None and lst.named_children else None
    return idx


@predicate
def index_from_input(ctx: MatchContext, cap: str) -> bool:
    """C/C++: the subscript's index comes from outside input (tainted, or parsed from tainted text by atoi,
    strtol, sscanf) and no condition before it bounds it on both sides (below by ``>= 0`` or an unsigned type,
    above by the table's size); a mask (``& 0xff``) or a cast to unsigned char also bounds it."""
    n = ctx.node(cap)
    idx = _c_subscript_index(n) if n is not None and n.type == "subscript_expression" else n
    if idx is None or idx.type == "number_literal" or _c_masked(ctx, idx):
        return False
    idents: list = []
    labels = _c_input_labels(ctx, idx, idents=idents)
    if not labels:
        return False
    direct = [c for c in _c_nodes(idx) if c.type == "call_expression" and C_NUMBER_PARSERS.match(_c_fn_name(ctx, c))]
    unbounded = bool(direct) or any(not _c_bounded(ctx, i, n, need_lower=True) for i in idents)
    return unbounded and _accept(ctx, labels, callers=False)


@predicate
def size_from_input(ctx: MatchContext, cap: str) -> bool:
    """C/C++: a size (an allocation's arithmetic, snprintf's bound) is computed from outside input (tainted,
    or parsed from tainted text) that no condition before it bounds from above (``n > MAX``, ``n <
    SIZE_MAX / size``)."""
    n = ctx.node(cap)
    if n is None:
        return False
    idents: list = []
    labels = _c_input_labels(ctx, n, idents=idents)
    if not labels:
        return False
    direct = [c for c in _c_nodes(n) if c.type == "call_expression" and C_NUMBER_PARSERS.match(_c_fn_name(ctx, c))]
    unbounded = bool(direct) or any(not _c_bounded(ctx, i, n, need_lower=False) for i in idents)
    return unbounded and _accept(ctx, labels, callers=False)


def _c_array_size(ctx: MatchContext, ident) -> tuple[object, str] | None:
    """(constant size or None, size text) when the identifier names an array declared with a size (in its
    function or at file level; an array parameter is a pointer and does not count)."""
    if ident is None or ident.type != "identifier":
        return None
    decl = _c_declaration(ctx, ident)
    if decl is None or decl[1] is None or decl[2].type == "parameter_declaration":
        return None
    size = decl[1]
    if size.type == "array_declarator":  # char buf[] = "..."
        return None
    text = ctx.text(size)
    try:
        return int(text, 0), text
    except ValueError:
        v = _int_const(ctx, size)
        return v, text


@predicate
def size_not_of(ctx: MatchContext, dst: str, size: str) -> bool:
    """C/C++: the destination is a fixed-size array but the bound given with it is not its size: a strlen of
    some other string (the source's length) or a constant larger than the array."""
    d, s = ctx.node(dst), ctx.node(size)
    arr = _c_array_size(ctx, d)
    if arr is None or s is None or "sizeof" in ctx.text(s):
        return False
    for n in _c_nodes(s):
        if n.type == "call_expression" and re.match(r"^(std::)?(strlen|wcslen)$", _c_fn_name(ctx, n)):
            args = _c_args(n)
            if args and ctx.text(args[0]) != ctx.text(d):
                return True
    limit = _int_const(ctx, s)
    return limit is not None and arr[0] is not None and limit > arr[0]


C_STRING_USES = {  # function -> argument positions read as NUL-terminated strings
    "strlen": (0,), "strcpy": (1,), "strcat": (1,), "strdup": (0,), "strcmp": (0, 1), "strcasecmp": (0, 1),
    "strchr": (0,), "strrchr": (0,), "strstr": (0, 1), "strtok": (0,), "strspn": (0,), "strcspn": (0,),
    "atoi": (0,), "atol": (0,), "atoll": (0,), "atof": (0,), "strtol": (0,), "strtoul": (0,), "strtoll": (0,),
    "strtoull": (0,), "strtod": (0,), "sscanf": (0,), "puts": (0,), "fputs": (0,), "strpbrk": (0,),
    "wcslen": (0,), "wcscpy": (1,), "fopen": (0,), "open": (0,), "system": (0,), "getenv": (0,),
}
C_PRINTF = re.compile(r"^(printf|fprintf|sprintf|snprintf|dprintf|syslog|asprintf)$")
C_NUL_STORE = r"(0|'\\0'|'\\x00'|NUL|'\\000')\s*;"


def _c_string_uses(ctx: MatchContext, fn, name: str, after: int) -> list:
    out = []
    for n in _c_nodes(fn, skip=()):
        if n.type != "call_expression" or n.start_byte < after:
            continue
        f = _c_fn_name(ctx, n).removeprefix("std::")
        args = _c_args(n)
        if f in C_STRING_USES:
            if any(i < len(args) and _c_is_name(ctx, args[i], name) for i in C_STRING_USES[f]):
                out.append(n)
        elif C_PRINTF.match(f):
            fmt = next((i for i, a in enumerate(args) if a.type == "string_literal"), None)
            if fmt is None:
                continue
            convs = re.findall(r"%[-+ #0]*(\*|\d+)?(\.\*|\.\d+)?[hlLqjzt]*([a-zA-Z%])", ctx.text(args[fmt]))
            values = [c for c in convs if c[2] != "%"]
            pos = fmt + 1
            for width, prec, conv in values:
                pos += (width == "*") + (prec == ".*")
                if conv == "s" and not prec and pos < len(args) and _c_is_name(ctx, args[pos], name):
                    out.append(n)
                    break
                pos += 1
    return sorted(out, key=lambda c: c.start_byte)


@predicate
def unterminated_read(ctx: MatchContext, buf: str, size: str) -> bool:
    """C/C++: a buffer filled by read/recv/fread (which add no NUL) is later read as a string (strlen, strcpy,
    printf %s, strcmp, atoi...) with no ``buf[n] = '\\0'`` between, and was not zero-filled beforehand
    (memset, ``= {0}``, calloc) with the read bounded below its size."""
    b, s = ctx.node(buf), ctx.node(size)
    if b is None or s is None or b.type != "identifier":
        return False
    fn = enclosing_function(b)
    if fn is None:
        return False
    name = ctx.text(b)
    call = b.parent
    while call is not None and call.type != "call_expression":
        call = call.parent
    if call is None:
        return False
    uses = _c_string_uses(ctx, fn, name, call.end_byte)
    if not uses:
        return False
    between = ctx.analysis.data[call.end_byte:uses[0].start_byte].decode("utf-8", "replace")
    q = re.escape(name)
    if re.search(rf"(\b{q}\s*\[[^\]]+\]|\*\s*\(\s*{q}\s*\+[^)]*\))\s*=\s*{C_NUL_STORE}", between):
        return False
    if re.search(rf"\b(strncpy|strlcpy|snprintf|sprintf|strcpy|memcpy|fgets)\s*\(\s*{q}\s*,", between):
        return False  # refilled with something else before the use
    before = ctx.analysis.data[fn.start_byte:call.start_byte].decode("utf-8", "replace")
    zeroed = re.search(rf"\b(memset\s*\(\s*{q}\s*,\s*(0|'\\0')\s*,|bzero\s*\(\s*{q}\b|explicit_bzero\s*\(\s*{q}\b|"
                       rf"\b{q}\s*(\[[^\]]*\])?\s*=\s*(\{{\s*(0|'\\0')?\s*\}}|\"\"|calloc\s*\())", before)
    if zeroed:
        size_text = ctx.text(s)
        arr = _c_array_size(ctx, b)
        if re.search(r"-\s*\d+\s*\)?$", size_text):
            return False  # sizeof buf - 1 into a zeroed buffer
        limit = _int_const(ctx, s)
        if arr is not None and arr[0] is not None and limit is not None and limit < arr[0]:
            return False
    return True


@predicate
def length_may_be_zero(ctx: MatchContext, cap: str) -> bool:
    """C/C++: ``s[len - 1]`` where len is strlen(s) (or read/recv/fread's count, or .size()) and nothing
    before it shows the length is above zero (``len > 0``, ``if (!len) return``, ``*s``, ``s[0]``): with an
    empty string it writes or reads the byte before the buffer."""
    n = ctx.node(cap)
    idx = _c_subscript_index(n) if n is not None and n.type == "subscript_expression" else None
    if idx is None or idx.type != "binary_expression" or ctx.text(idx.child_by_field_name("operator")) != "-":
        return False
    left, right = idx.child_by_field_name("left"), idx.child_by_field_name("right")
    if right is None or ctx.text(right) != "1" or left is None:
        return False
    strings: list[str] = []  # strings whose emptiness check would do
    lengths: list[str] = []  # variables whose > 0 check would do
    if left.type == "call_expression":
        f = _c_fn_name(ctx, left)
        args = _c_args(left)
        fobj = left.child_by_field_name("function")
        if fobj is not None and fobj.type == "field_expression" and re.search(r"\.(size|length)$", f) and not args:
            strings.append(ctx.text(fobj.child_by_field_name("argument")))  # s[s.size() - 1]
        elif not re.match(r"^(std::)?(strlen|wcslen)$", f) or not args:
            return False
        else:
            strings.append(ctx.text(args[0]))
    elif left.type == "identifier":
        lengths.append(ctx.text(left))
        d = _c_last_definition(ctx, left)
        value = d[1] if d is not None and d[0] == "value" else None
        while value is not None and value.type in ("parenthesized_expression", "cast_expression"):
            value = value.named_children[-1] if value.named_children else None
        if value is None or value.type != "call_expression":
            return False
        f = _c_fn_name(ctx, value)
        fobj = value.child_by_field_name("function")
        if fobj is not None and fobj.type in ("field_expression",) and re.search(r"\.(size|length)$", f):
            strings.append(ctx.text(fobj.child_by_field_name("argument")))
        elif C_LENGTH_CALLS.match(f.removeprefix("std::")):
            args = _c_args(value)
            if f.removeprefix("std::") in ("strlen", "wcslen", "strnlen") and args:
                strings.append(ctx.text(args[0]))
        else:
            return False
    else:
        return False
    for cond in _c_conditions(ctx, n):
        text = ctx.text(cond)
        if cond.start_byte <= n.start_byte and n.end_byte <= cond.end_byte:  # the test holding the access itself
            text = text.replace(ctx.text(n), " ")
        for s in strings:
            q = re.escape(s)
            if re.search(rf"\*\s*\(?\s*{q}\b|\b{q}\s*\[\s*0\s*\]|\b(strlen|wcslen|strnlen)\s*\(\s*{q}\s*[,)]|"
                         rf"\b{q}\s*(\.|->)\s*(empty|size|length)\s*\(", text):
                return False
        for ln in lengths:
            if not re.search(rf"\b{re.escape(ln)}\b", text):
                continue
            for op, other in _c_comparisons(ctx, cond, ln):
                o = other.strip()
                if op in ("truth", "call", "==", "!=", ">") and not o.startswith("-"):
                    return False
                if op == ">=" and not NEGATIVE_OR_ZERO.match(o):
                    return False
                if op == "<=" and re.fullmatch(r"\d+", o):
                    return False
                if op == "<" and re.fullmatch(r"\d+", o) and o != "0":
                    return False
    return True


C_DOTDOT_CHECK = r"(strstr|strcasestr|memmem)\s*\(\s*{q}\s*,\s*\"\.\.|strchr\s*\(\s*{q}\s*,\s*'/'|" \
                 r"strpbrk\s*\(\s*{q}\s*,|strcspn\s*\(\s*{q}\s*,|\b{q}\s*\[\s*0\s*\]\s*[!=]=\s*'\.'"
C_JOINERS = re.compile(r"^(std::)?(snprintf|sprintf|strcat|strncat|strlcat|asprintf|vsnprintf)$")


def _c_path_parts(ctx: MatchContext, path):
    """The pieces a path buffer was joined from before ``path`` in its function: the arguments after the
    format of ``snprintf(path, n, "%s/%s", dir, name)`` but the first (the folder), or what strcat appends;
    [] when the buffer was not built by joining."""
    fn = enclosing_function(path)
    if fn is None or path.type != "identifier":
        return []
    name = ctx.text(path)
    parts = []
    for n in _c_nodes(fn, skip=()):
        if n.type != "call_expression" or n.end_byte > path.start_byte:
            continue
        f = _c_fn_name(ctx, n).removeprefix("std::")
        args = _c_args(n)
        if not C_JOINERS.match(f) or not args or not _c_is_name(ctx, args[0] if f != "asprintf" else
                                                               args[0].named_children[-1] if args[0].named_children
                                                               else args[0], name):
            continue
        if f in ("strcat", "strncat", "strlcat"):
            if len(args) > 1:
                parts.append(args[1])
            continue
        fmt_i = {"snprintf": 2, "vsnprintf": 2, "sprintf": 1, "asprintf": 1}[f]
        if len(args) <= fmt_i or "/" not in ctx.text(args[fmt_i]):
            continue
        rest = args[fmt_i + 1:]
        if re.match(r'^"%s', ctx.text(args[fmt_i])) and rest:
            rest = rest[1:]  # the base folder
        parts.extend(rest)
    return parts


@predicate
def joined_path(ctx: MatchContext, cap: str) -> bool:
    """C/C++: the path is a buffer joined from a folder and an outside name (``snprintf(p, n, "%s/%s", dir,
    name)``, ``strcat(p, name)``; for openat/unlinkat the name is relative to the folder descriptor), and
    nothing before the call rejects ``..`` or ``/`` in the name (strstr(name, ".."), strchr(name, '/')) or
    checks the resolved path (realpath and a prefix compare)."""
    n = ctx.node(cap)
    if n is None:
        return False
    sink = ctx.node("sink")
    relative = sink is not None and re.match(r"^(openat|unlinkat|fstatat|mkdirat|renameat|linkat|symlinkat|"
                                             r"faccessat|fchmodat|fchownat)$", _c_fn_name(ctx, sink))
    parts = [n] if relative else _c_path_parts(ctx, n)
    fn = enclosing_function(n)
    if not parts or fn is None:
        return False
    before = ctx.analysis.data[fn.start_byte:n.start_byte].decode("utf-8", "replace")
    conds = " ".join(ctx.text(c) for c in _c_conditions(ctx, n))
    if re.search(rf"\brealpath\s*\(\s*{re.escape(ctx.text(n))}\b", before) and re.search(r"\b(strncmp|memcmp|strcmp)\b",
                                                                                          conds):
        return False
    labels = []
    for p in parts:
        found = ctx.analysis.value_of(p).reaching(ctx.cwe)
        if not found:
            continue
        checked = False
        for ident in [p] + [c for c in _c_nodes(p) if c.type == "identifier"]:
            q = re.escape(re.sub(r"\s+", "", ctx.text(ident))).replace("\\[", "\\s*\\[\\s*").replace("\\]", "\\s*\\]")
            if re.search(C_DOTDOT_CHECK.format(q=q), conds):
                checked = True
        if not checked:
            labels.extend(found)
    return _accept(ctx, labels)


@predicate
def archive_path_unchecked(ctx: MatchContext, cap: str) -> bool:
    """C/C++ libarchive: in a loop over archive_read_next_header, an entry is written to disk (a file opened
    from archive_entry_pathname, archive_write_header on a disk writer, archive_read_extract) while neither the
    ARCHIVE_EXTRACT_SECURE_NODOTDOT and _NOABSOLUTEPATHS flags are set in the file nor the function rejects
    ``..`` and absolute names."""
    n = ctx.node(cap)
    fn = enclosing_function(n) if n is not None else None
    if fn is None:
        return False
    body = ctx.text(fn)
    if "archive_read_next_header" not in body:
        return False
    f = _c_fn_name(ctx, n)
    if f == "archive_write_header" and "archive_write_disk_new" not in body:
        return False  # writing an archive, not extracting one
    if f not in ("archive_write_header", "archive_read_extract", "archive_read_extract2"):
        args = _c_args(n)
        if not args:
            return False
        arg = args[1] if f in ("openat",) and len(args) > 1 else args[0]
        text = ctx.text(arg)
        if "archive_entry_pathname" not in text:
            if arg.type != "identifier":
                return False
            d = _c_last_definition(ctx, arg)
            joined = " ".join(ctx.text(p) for p in _c_path_parts(ctx, arg))
            defined = ctx.text(d[1]) if d is not None and d[1] is not None else ""
            if "archive_entry_pathname" not in defined + " " + joined and not re.search(
                    r"\b(snprintf|sprintf|strcat|strcpy)\s*\(\s*" + re.escape(text) + r"\b[^;]*archive_entry_pathname",
                    body):
                return False
    whole = ctx.analysis.data.decode("utf-8", "replace")
    flag_dotdot = "ARCHIVE_EXTRACT_SECURE_NODOTDOT" in whole
    flag_abs = "ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS" in whole
    conds = " ".join(ctx.text(c) for c in _c_conditions(ctx, n))
    check_dotdot = re.search(r"(strstr|memmem|strcasestr)\s*\([^;]*\"\.\.", conds) is not None
    check_abs = re.search(r"\[\s*0\s*\]\s*[!=]=\s*'/'|'/'\s*[!=]=|\*\s*\w+\s*[!=]=\s*'/'|==\s*'/'", conds) is not None
    return not ((flag_dotdot or check_dotdot) and (flag_abs or check_abs))


# ---------------------------------------------------------------- false alarms found by bench/fp_sweep.py

@predicate
def pointer_declared(ctx: MatchContext, cap: str) -> bool:
    """C/C++: the identifier is declared as a pointer or an array (``T *p``, ``T p[]``) in its function or at
    file level; an integer (``nSpace + i * sizeof(T)`` is a byte count) is not."""
    n = ctx.node(cap)
    decl = _c_declaration(ctx, n) if n is not None and n.type == "identifier" else None
    if decl is None:
        return False
    d = decl[3]
    while d is not None and d.type in ("init_declarator", "parenthesized_declarator", "attributed_declarator"):
        d = d.child_by_field_name("declarator")
    return d is not None and d.type in ("pointer_declarator", "array_declarator")


_C_SIZE_NOISE = re.compile(r"\s+|\((size_t|int|u64|u32|unsigned)\)")


@predicate
def allocated_with(ctx: MatchContext, dst: str, length: str) -> bool:
    """C: the destination was just allocated with the same length expression (``p = malloc(n); memset(p, 0,
    n)``): the count cannot exceed the buffer."""
    d, n = ctx.node(dst), ctx.node(length)
    if d is None or n is None or d.type != "identifier":
        return False
    rhs = _last_assignment(ctx, ctx.text(d), d.start_byte)
    return bool(rhs) and bool(re.search(r"(?i)alloc\w*\s*\(", rhs)) and \
        _C_SIZE_NOISE.sub("", ctx.text(n)) in _C_SIZE_NOISE.sub("", rhs)


TAR_OPENERS = re.compile(r"tarfile\.open|TarFile(\.open)?\s*\(|tarfile\.TarFile")


@predicate
def tar_receiver(ctx: MatchContext, cap: str) -> bool:
    """The object extracted from is a tarfile archive: ``tarfile.open(...).extractall()``, or a name bound by
    ``tar = tarfile.open(...)`` / ``with tarfile.open(...) as tar``, or a ``tar``/``tarball`` parameter. Another
    library's ``archive.extract(to)`` (Django's, which checks every member itself) is not."""
    n = ctx.node(cap)
    fnode = n.child_by_field_name("function") if n is not None else None
    recv = fnode.child_by_field_name("object") if fnode is not None else None
    if recv is None:
        return False
    text = ctx.text(recv)
    if TAR_OPENERS.search(text):
        return True
    if recv.type != "identifier":
        return False
    rhs = _last_assignment(ctx, text, recv.start_byte)
    if rhs and TAR_OPENERS.search(rhs):
        return True
    if re.search(rf"(?:{TAR_OPENERS.pattern})[^\n]*\bas\s+{re.escape(text)}\b", ctx.analysis.data[:recv.start_byte]
                 .decode("utf-8", "replace")):
        return True
    return bool(re.fullmatch(r"(?i)(tar|tarball|tar_?file|tf|archive_file)", text)) and rhs is None


# Python archive members: a loop over a ZipFile's infolist()/namelist() or a TarFile's getmembers() (or the
# TarFile itself), and the name each member carries.
PY_ARCHIVE_LOOP = re.compile(r"\bfor\s+(\w+)\s+in\s+[^\n:]*?(\.(infolist|namelist|getmembers|getnames)\(\)|"
                             r"\b(tar|tf|tarball|archive)\s*:)")
PY_ARCHIVE_CHECK = re.compile(r"startswith|commonpath|is_relative_to|relative_to|\.\.|isabs|is_absolute|"
                              r"(?i:safe|valid|inside|within|contained|escapes|traversal|zipslip|slip)\w*\(")


@predicate
def py_archive_entry_path(ctx: MatchContext, cap: str) -> bool:
    """Python: the path is a zip or tar member's own name joined to a folder (``os.path.join(dest,
    info.filename)``, ``Path(dest) / member.name``, a ``namelist()`` name), not one reduced to its base name;
    and nothing before it checks the result or the name (``startswith``/``commonpath``/``is_relative_to``,
    ``".." in name``, ``isabs``, a helper named like a check)."""
    n = ctx.node(cap)
    fn = enclosing_function(n) if n is not None else None
    if n is None or fn is None:
        return False
    expanded = _expanded_text(ctx, n)
    if not re.search(r"\bjoin\(|\s/\s|\bPath\(", expanded):
        return False
    loops = {m.group(1): m.group(3) for m in PY_ARCHIVE_LOOP.finditer(ctx.text(fn))}
    hit = None
    for var, how in loops.items():
        named = rf"(?<![\w.]){re.escape(var)}"
        if how in ("namelist", "getnames") and re.search(named + r"\b(?!\.)", expanded):
            hit = var
        elif re.search(named + r"\.(filename|name|path)\b", expanded):
            hit = var
    if hit is None:
        return False
    if re.search(rf"\bbasename\(\s*{re.escape(hit)}\b", expanded):
        return False
    names = set(re.findall(r"[A-Za-z_]\w*", expanded)) - {"os", "path", "join", "Path", "str"}
    return not _condition_before(ctx, n, names, PY_ARCHIVE_CHECK)

"""Security in the editor: CWE findings as diagnostics, quick fixes, and model fixes that are verified.

Plain functions first (each usable from a test and from ``qcn fix``):

- ``to_diagnostic`` / ``to_lsp_range``: a ``CweFinding`` (code-point columns) as an
  lsprotocol ``Diagnostic`` (UTF-16 columns), with code, CWE link, severity by
  confidence and the taint source as related information;
- ``enclosing_region``: the function (tree-sitter) a fix may rewrite;
- ``verify_fix``: the checks a candidate must pass before it is offered;
- ``model_fix``: prompt → model → candidate → verification, for a qcn finding or
  for any diagnostic (``FixTarget``).

Then ``SecurityFeature``, the server side: per-document debounced scans on a
thread of their own (never the completion pool), publishing, the code actions
and their lazy resolution.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from lsprotocol import types

from qcn.indexer.security import CweFinding, Position, Range, ScanOptions, TextEdit, scan_source
from qcn.indexer.security.findings import cwe_family
from qcn.model.backend import CancelToken, GenerationRequest
from qcn.model.remote import RemoteError
from qcn.server.engine import utf16_len, utf16_to_index
from qcn.server.positions import length, to_index
from qcn.server.settings import ANALYSED_DOCUMENT_BYTES

log = logging.getLogger(__name__)

SOURCE = "qcn"
MODEL_NAME = "Qwen3-Coder-Next"
DIAGNOSTIC_DELAY_S = 0.3
SUPPORTED = ("python", "javascript", "typescript", "tsx", "go", "java", "c", "cpp")

# -- positions -------------------------------------------------------------------------------


def utf16_column(line: str, character: int) -> int:
    """UTF-16 column of code-point column ``character`` in ``line``."""
    return utf16_len(line[:character])


code_point_column = utf16_to_index  # code-point column of a UTF-16 column in a line (clamped to the line)


def _line(lines: list[str], n: int) -> str:
    return lines[n] if 0 <= n < len(lines) else ""


class Lines(list):
    """A document's lines and the position encoding its LSP columns are counted in."""

    encoding = "utf-16"


def to_lsp_range(rng: Range, lines: list[str]) -> types.Range:
    enc = getattr(lines, "encoding", "utf-16")
    return types.Range(
        types.Position(rng.start.line, length(_line(lines, rng.start.line)[:rng.start.character], enc)),
        types.Position(rng.end.line, length(_line(lines, rng.end.line)[:rng.end.character], enc)))


def from_lsp_range(rng: types.Range, lines: list[str]) -> Range:
    enc = getattr(lines, "encoding", "utf-16")
    return Range.of(rng.start.line, to_index(_line(lines, rng.start.line), rng.start.character, enc),
                    rng.end.line, to_index(_line(lines, rng.end.line), rng.end.character, enc))


def text_lines(text: str, encoding: str = "utf-16") -> list[str]:
    """Lines as the LSP counts them (``\\r`` kept out of the columns), columns in ``encoding``."""
    lines = Lines(line.rstrip("\r") for line in text.split("\n"))
    lines.encoding = encoding
    return lines


def to_lsp_edits(edits, lines: list[str]) -> list[types.TextEdit]:
    return [types.TextEdit(to_lsp_range(e.range, lines), e.new_text) for e in edits]


# -- diagnostics -------------------------------------------------------------------------------


def lsp_severity(finding: CweFinding) -> types.DiagnosticSeverity:
    """Severity by confidence: how sure qcn is decides how loudly the editor says it.

    high → Warning (Error when the rule itself is an ``error``, e.g. tainted SQL or shell),
    medium → Information, low → Hint.
    """
    if finding.confidence == "high":
        return types.DiagnosticSeverity.Error if finding.severity == "error" else types.DiagnosticSeverity.Warning
    if finding.confidence == "medium":
        return types.DiagnosticSeverity.Information
    return types.DiagnosticSeverity.Hint


def to_diagnostic(finding: CweFinding, lines: list[str], uri: str) -> types.Diagnostic:
    related = None
    if finding.source is not None:
        related = [types.DiagnosticRelatedInformation(
            types.Location(uri, to_lsp_range(finding.source.range, lines)),
            f"untrusted data enters here: {finding.source.description}")]
    engine = "" if finding.engine == "qcn" else f" [{finding.engine}]"
    return types.Diagnostic(
        range=to_lsp_range(finding.range, lines),
        message=f"{finding.title}: {finding.message}{engine}",
        severity=lsp_severity(finding),
        code=finding.code,
        code_description=types.CodeDescription(href=finding.cwe_url),
        source=SOURCE,
        related_information=related,
        data={"ruleId": finding.rule_id, "cwe": finding.cwe},
    )


# -- the region a fix may rewrite -------------------------------------------------------------

FUNCTION_TYPES = frozenset({
    "function_definition",  # python, c, cpp
    "function_declaration", "generator_function_declaration", "function_expression", "function",
    "generator_function", "arrow_function", "method_definition",  # javascript, typescript
    "method_declaration", "func_literal",  # go (function_declaration above)
    "constructor_declaration", "compact_constructor_declaration",  # java (method_declaration above)
})


@dataclass(frozen=True)
class Region:
    """Part of a document that a fix may replace, as string offsets (code points)."""

    start: int  # the function's first character
    end: int  # just after its last character
    body_start: int  # where the model starts writing (start of the line after the header, or ``start``)
    kind: str  # tree-sitter node type ("function_definition", or "statement" at module level)
    start_line: int  # 0-based
    end_line: int


def _parse(text: str, language: str):
    from qcn.indexer import parser_for

    return parser_for(language).parse(text.encode("utf-8"))


class _Offsets:
    """Code-point offsets of a text ↔ byte offsets and (line, character) positions."""

    def __init__(self, text: str):
        self.text = text
        self.line_starts = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                self.line_starts.append(i + 1)
        self._data = text.encode("utf-8")

    def of(self, pos: Position) -> int:
        line = min(pos.line, len(self.line_starts) - 1)
        start = self.line_starts[line]
        end = self.line_starts[line + 1] - 1 if line + 1 < len(self.line_starts) else len(self.text)
        return min(start + pos.character, end)

    def from_byte(self, byte: int) -> int:
        return len(self._data[:byte].decode("utf-8", "replace"))

    def line_of(self, offset: int) -> int:
        import bisect

        return bisect.bisect_right(self.line_starts, offset) - 1


def _contains(node, lo: int, hi: int) -> bool:
    return node.start_byte <= lo and hi <= node.end_byte


def enclosing_region(text: str, language: str, rng: Range, also: Range | None = None, tree=None) -> Region | None:
    """The innermost function that contains ``rng`` (and ``also``, the taint source, when one function
    holds both); at module level, the top-level statement. None when nothing contains the range."""
    tree = tree or _parse(text, language)
    off = _Offsets(text)

    def byte(pos: Position) -> int:
        return len(text[: off.of(pos)].encode("utf-8"))

    lo, hi = byte(rng.start), byte(rng.end)
    node = tree.root_node.descendant_for_byte_range(lo, max(lo, hi))
    functions = []
    while node is not None:
        if node.type in FUNCTION_TYPES and _contains(node, lo, hi):
            functions.append(node)
        node = node.parent
    if also is not None and functions:
        alo, ahi = byte(also.start), byte(also.end)
        both = [f for f in functions if _contains(f, alo, ahi)]
        chosen = both[0] if both else functions[0]
    elif functions:
        chosen = functions[0]
    else:
        chosen = next((c for c in tree.root_node.children if _contains(c, lo, hi)), None)
        if chosen is None:
            return None
    start, end = off.from_byte(chosen.start_byte), off.from_byte(chosen.end_byte)
    start_line, end_line = chosen.start_point[0], chosen.end_point[0]
    body_start = start
    body = chosen.child_by_field_name("body")
    if body is not None and chosen.type in FUNCTION_TYPES:
        # The header is kept (and shown to the model) unless the finding is in it.
        body_row = body.start_point[0]
        header_last = body_row if text[off.from_byte(body.start_byte):][:1] == "{" else body_row - 1
        if start_line <= header_last < end_line and rng.start.line > header_last:
            body_start = off.line_starts[header_last + 1]
    return Region(start, end, body_start, chosen.type if functions else "statement", start_line, end_line)


# -- verification ------------------------------------------------------------------------------


@dataclass
class Verdict:
    ok: bool
    reasons: list[str] = field(default_factory=list)  # why not (empty when ok)
    checked: list[str] = field(default_factory=list)  # what was checked and passed

    def __bool__(self) -> bool:
        return self.ok


def _broken_nodes(tree, lo: int, hi: int) -> int:
    """ERROR and MISSING nodes that touch bytes [lo, hi]."""
    count = 0
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if not node.has_error or node.end_byte < lo or node.start_byte > hi:
            continue
        if node.type == "ERROR" or node.is_missing:
            count += 1
        stack.extend(node.children)
    return count


def _function_at(tree, lo: int, hi: int):
    """The function node spanning exactly bytes [lo, hi) (or a same-span node holding one), else None."""
    node = tree.root_node.descendant_for_byte_range(lo, max(lo, hi - 1))
    while node is not None and node.start_byte >= lo and node.end_byte <= hi:
        if node.start_byte == lo and node.end_byte == hi and node.type in FUNCTION_TYPES:
            return node
        node = node.parent
    return None


def _empty_body(function) -> bool:
    body = function.child_by_field_name("body")
    return body is not None and body.named_child_count == 0


def _finding_key(f: CweFinding) -> str:
    return f"{f.rule_id} ({f.code})"


def verify_fix(original_text: str, candidate_text: str, finding: CweFinding | None, language: str, *,
               region: Region | None = None, target_range: Range | None = None,
               path: str = "", options: ScanOptions | None = None) -> Verdict:
    """May ``candidate_text`` replace ``original_text`` as the fix of ``finding``?

    ``finding`` is the qcn finding being fixed (None for another tool's diagnostic at
    ``target_range``: then qcn cannot re-check that diagnostic, and only the other checks run).
    Checks, all of which must pass:

    1. the candidate differs from the original only inside the enclosing function (``region``,
       found from the finding when not given) and what replaces it is one function again;
    2. it still parses: no ERROR or MISSING node introduced in the function or the file;
    3. the finding is gone: fewer findings of its rule (or CWE family) in the function;
    4. no new finding: no rule fires more often anywhere in the file than before.
    """
    reasons, checked = [], []
    rng = finding.range if finding is not None else target_range
    if rng is None:
        raise ValueError("verify_fix needs a finding or a target_range")
    if language not in SUPPORTED:
        return Verdict(False, [f"cannot verify {language} code (no parser or rules)"])
    if candidate_text == original_text:
        return Verdict(False, ["the candidate changes nothing"])
    original_tree = _parse(original_text, language)
    if region is None:
        region = enclosing_region(original_text, language, rng,
                                  finding.source.range if finding is not None and finding.source else None,
                                  tree=original_tree)
        if region is None:
            return Verdict(False, ["the finding is not inside a function or statement qcn can rewrite"])
    head, tail = original_text[: region.start], original_text[region.end:]
    if not (candidate_text.startswith(head) and candidate_text.endswith(tail)
            and len(candidate_text) >= len(head) + len(tail)):
        return Verdict(False, [f"the candidate changes code outside lines {region.start_line + 1}-"
                               f"{region.end_line + 1} (the enclosing function)"])
    replacement = candidate_text[len(head): len(candidate_text) - len(tail)]
    if not replacement.strip():
        return Verdict(False, ["the candidate deletes the function"])
    checked.append("only the enclosing function changed")

    candidate_tree = _parse(candidate_text, language)
    lo = len(head.encode("utf-8"))
    new_hi = lo + len(replacement.encode("utf-8"))
    old_hi = lo + len(original_text[region.start: region.end].encode("utf-8"))
    before_fn, after_fn = _broken_nodes(original_tree, lo, old_hi), _broken_nodes(candidate_tree, lo, new_hi)
    before_all = _broken_nodes(original_tree, 0, len(original_text.encode("utf-8")))
    after_all = _broken_nodes(candidate_tree, 0, len(candidate_text.encode("utf-8")))
    if after_fn > before_fn or after_all > before_all:
        reasons.append(f"the candidate does not parse ({after_all} syntax error(s) after the edit, "
                       f"{before_all} before)")
    else:
        checked.append("the file still parses")
        if region.kind != "statement":
            end = lo + len(replacement.rstrip().encode("utf-8"))
            function = _function_at(candidate_tree, lo, end)
            if function is None:
                reasons.append("the replacement is not exactly one function")
            elif _empty_body(function) and not _empty_body(_function_at(original_tree, lo, old_hi) or function):
                reasons.append("the candidate empties the function's body")
            else:
                checked.append("the replacement is one function")

    options = options or ScanOptions(fixes=False)
    path = path or "verify" + _ext(language)
    before = scan_source(path, original_text, language, tree=original_tree, options=options)
    after = scan_source(path, candidate_text, language, tree=candidate_tree, options=options)
    new_start_line = head.count("\n")
    new_end_line = new_start_line + replacement.count("\n")
    if finding is not None:
        family = cwe_family(finding.cwe)

        def same_kind(f: CweFinding) -> bool:
            return f.rule_id == finding.rule_id or f.cwe in family

        old_here = sum(1 for f in before if same_kind(f) and region.start_line <= f.range.start.line <= region.end_line)
        new_here = sum(1 for f in after if same_kind(f) and new_start_line <= f.range.start.line <= new_end_line)
        if new_here >= max(old_here, 1):
            still = next(f for f in after if same_kind(f) and new_start_line <= f.range.start.line <= new_end_line)
            reasons.append(f"the finding is still there: {finding.code} {finding.title} at line {still.line1}")
        else:
            checked.append(f"{finding.code} is gone")
    grown = collections.Counter(map(_finding_key, after)) - collections.Counter(map(_finding_key, before))
    if grown:
        fresh = [f for f in after if _finding_key(f) in grown]
        reasons.append("the candidate adds " + ", ".join(
            f"{f.code} {f.title} at line {f.line1}" for f in fresh[:3]))
    else:
        checked.append("no new finding")
    return Verdict(not reasons, reasons, checked)


_EXTENSIONS = {"python": ".py", "javascript": ".js", "typescript": ".ts", "tsx": ".tsx", "go": ".go",
               "java": ".java", "c": ".c", "cpp": ".cpp"}


def _ext(language: str) -> str:
    return _EXTENSIONS.get(language, "")


def scan_language(path: str, language_id: str | None = None) -> str | None:
    """The scanner's language for a document: from its extension, else from the client's language id."""
    from qcn.indexer.security.parsing import ALIASES, language_for_path

    lang = language_for_path(path)
    if lang is None and language_id:
        lang = ALIASES.get(language_id.lower(), language_id.lower())
    return lang if lang in SUPPORTED else None


# -- the model fix pipeline --------------------------------------------------------------------

GUIDANCE = {
    22: "resolve the path and check that it stays inside the intended base folder before opening it",
    78: "do not build a shell command from data: pass an argument list without a shell, or quote each argument",
    79: "escape data before it goes into HTML (html.escape, a template with autoescaping)",
    89: "use a parameterized query: placeholders in the SQL text and the values passed separately",
    90: "escape data before it goes into an LDAP filter",
    94: "never evaluate data as code: parse it (json, ast.literal_eval) or dispatch on an allow-list",
    95: "never evaluate data as code: parse it (json, ast.literal_eval) or dispatch on an allow-list",
    120: "use a bounded copy that knows the destination's size",
    134: "use a constant format string and pass the data as an argument",
    295: "keep TLS certificate and host name verification on",
    327: "use a current algorithm (AES-GCM, SHA-256 or better)",
    328: "use SHA-256 or better, or a password hash (bcrypt, scrypt, argon2) for passwords",
    330: "use a cryptographically secure generator (secrets, crypto.randomBytes, crypto/rand)",
    338: "use a cryptographically secure generator (secrets, crypto.randomBytes, crypto/rand)",
    377: "create temporary files securely (tempfile.mkstemp / NamedTemporaryFile, mkstemp)",
    501: "validate data before storing it in the session",
    502: "do not deserialize untrusted data with a format that can build arbitrary objects; use JSON",
    601: "only redirect to relative paths or an allow-list of hosts",
    611: "disable external entities and DTDs in the XML parser (defusedxml)",
    614: "set the Secure (and HttpOnly) flag on the cookie",
    643: "do not build XPath expressions from data; use variables or escape it",
    676: "replace the dangerous function with its bounded counterpart",
    787: "check lengths against the destination's size before writing",
    798: "read the credential from the environment or a secret store instead of the source",
}


@dataclass(frozen=True)
class FixTarget:
    """What to fix: a qcn finding, or any diagnostic (another server's) at a range."""

    range: Range  # code-point columns
    message: str
    code: str = ""  # "CWE-89", "E501", ...
    source: str = ""  # "qcn", "pyright", ...
    finding: CweFinding | None = None

    @classmethod
    def of(cls, finding: CweFinding) -> FixTarget:
        return cls(finding.range, finding.message, finding.code, SOURCE, finding)

    @property
    def title(self) -> str:
        return f"Fix with {MODEL_NAME} ({self.code})" if self.finding is not None else f"Fix with {MODEL_NAME}"


def instruction_for(target: FixTarget) -> str:
    f = target.finding
    if f is not None:
        hint = GUIDANCE.get(f.cwe, "")
        text = f"Security fix ({f.code} {f.title}): {f.message}"
        return f"{text} {hint[:1].upper()}{hint[1:]}." if hint else text
    origin = " ".join(x for x in (target.source, target.code) if x)
    return f"Fix ({origin}): {target.message}" if origin else f"Fix: {target.message}"


@dataclass
class ModelFix:
    target: FixTarget
    verdict: Verdict
    candidate: str | None = None  # the whole new text, only when verified
    region: Region | None = None
    replacement: str = ""  # what the model wrote for the function (whether verified or not)
    prompt_tokens: int = 0
    generated_tokens: int = 0
    seconds: float = 0.0
    context: list[str] = field(default_factory=list)  # "path:start-end reason" of the context shown

    @property
    def ok(self) -> bool:
        return self.verdict.ok and self.candidate is not None

    def edit(self, original_text: str) -> TextEdit | None:
        """The verified edit: the enclosing function replaced (code-point positions), or None."""
        if not self.ok or self.region is None:
            return None
        off = _Offsets(original_text)

        def pos(offset: int) -> Position:
            line = off.line_of(offset)
            return Position(line, offset - off.line_starts[line])

        new_end = len(self.candidate) - (len(original_text) - self.region.end)
        return TextEdit(Range(pos(self.region.start), pos(self.region.end)),
                        self.candidate[self.region.start: new_end])


def _used_definitions(text: str, language: str, region: Region, index, path: str, budget_chars: int):
    """Definitions (from the index) of the names the function uses: the context a fix needs."""
    from qcn.model.prompt import ContextPiece

    if index is None:
        return [], []
    tree = _parse(text, language)
    data = text.encode("utf-8")
    lo, hi = len(text[: region.start].encode("utf-8")), len(text[: region.end].encode("utf-8"))
    names: list[str] = []
    stack = [tree.root_node.descendant_for_byte_range(lo, hi)]
    while stack:
        node = stack.pop()
        if node is None or node.end_byte < lo or node.start_byte > hi:
            continue
        if node.type in ("identifier", "type_identifier", "field_identifier", "property_identifier"):
            name = data[node.start_byte:node.end_byte].decode("utf-8", "replace")
            if name not in names:
                names.append(name)
        stack.extend(reversed(node.children))
    pieces, described, used = [], [], 0
    nearby = {path, *index.imports_of(path)}  # this file and the files it imports
    for name in names[:40]:
        for def_path, d in [x for x in index.definitions_of(name) if x[0] in nearby][:2]:
            if def_path == path and region.start_line < d.start_line <= region.end_line + 1:
                continue  # defined inside the function itself
            lines = index.lines_of(def_path)
            if not lines:
                continue
            body = "\n".join(lines[d.snippet_start - 1: min(d.end_line, d.snippet_start + 59)])
            if used + len(body) > budget_chars:
                continue
            used += len(body)
            pieces.append(ContextPiece(def_path, body))
            described.append(f"{def_path}:{d.snippet_start}-{d.end_line} definition of `{name}`")
    return pieces, described


def function_end(generated: str, language: str, header: str, indent: str) -> int | None:
    """Where the function the model is writing ends in ``generated`` (an index), or None while it goes on.

    Python: at the first complete, non-blank line indented no deeper than the ``def`` (after some
    body). Brace languages: where the braces opened by ``header`` + ``generated`` close again
    (strings and comments are not told apart: verification catches what this gets wrong).
    """
    if language == "python":
        offset, seen_body = 0, False
        for line in generated.splitlines(keepends=True):
            if not line.endswith("\n"):
                return None
            stripped = line.strip()
            if stripped and seen_body and len(line) - len(line.lstrip()) <= len(indent) \
                    and not stripped.startswith(("#", ")", "]", "}")):
                return offset
            seen_body = seen_body or (bool(stripped) and not (header == "" and offset == 0))
            offset += len(line)
        return None
    depth = header.count("{") - header.count("}")
    opened = depth > 0
    for i, ch in enumerate(generated):
        if ch == "{":
            depth, opened = depth + 1, True
        elif ch == "}":
            depth -= 1
            if opened and depth <= 0:
                return i + 1
    return None


def model_fix(text: str, path: str, target: FixTarget, language: str, backend, *, index=None,
              repo_name: str = "", context_budget: int = 8192, max_new_tokens: int = 1024,
              cancel: CancelToken | None = None, session_key: str = "qcn-fix",
              options: ScanOptions | None = None) -> ModelFix:
    """Ask the model for a new version of the function around ``target`` and verify it.

    ``path`` is the file's path as the index knows it (workspace-relative) or any name for it;
    ``backend`` is a ``qcn.model.backend.Backend``. The result holds a candidate only when
    ``verify_fix`` accepted it; otherwise ``verdict.reasons`` says why not.
    """
    from qcn.model.fix_prompt import FixPromptInput, build_fix_prompt
    from qcn.model.prompt import PromptBuilder, PromptError, PromptLimits

    t0 = time.perf_counter()
    if language not in SUPPORTED:
        return ModelFix(target, Verdict(False, [f"no fixes for {language} files"]))
    source = target.finding.source.range if target.finding is not None and target.finding.source else None
    region = enclosing_region(text, language, target.range, source)
    if region is None:
        return ModelFix(target, Verdict(False, ["the problem is not inside a function or statement"]))
    line_start = text.rfind("\n", 0, region.start) + 1
    indent = text[line_start: region.start]
    indent = indent if not indent.strip() else ""
    header = text[region.start: region.body_start]
    try:
        builder = PromptBuilder(backend.encode, backend.info.special_token_ids)
    except PromptError as exc:
        return ModelFix(target, Verdict(False, [str(exc)]), region=region)
    function_tokens = len(backend.encode(text[region.start: region.end]))
    budget = max(256, min(context_budget, backend.info.context_length - max_new_tokens - 1))
    pieces, described = _used_definitions(text, language, region, index, path, budget_chars=budget)
    request = FixPromptInput(
        path=path, before=text[: region.start], header=header, after=text[region.end:],
        instruction=instruction_for(target), comment="#" if language == "python" else "//", indent=indent,
        context=pieces, repo_name=repo_name, original=text[region.start: region.end])
    limits = PromptLimits(budget_tokens=budget, prefix_tokens=budget // 3, suffix_tokens=budget // 6)
    try:
        prompt = build_fix_prompt(builder, request, limits)
    except PromptError as exc:
        return ModelFix(target, Verdict(False, [str(exc)]), region=region)
    limit = max(32, min(max_new_tokens, 2 * function_tokens + 64))
    body_chars = 4 * (region.end - region.body_start) + 400

    def over(so_far: str) -> bool:
        return len(so_far) > body_chars or function_end(so_far, language, header, indent) is not None

    request = GenerationRequest(prompt.ids, limit, session_key, stop=over, priority="background")
    tokens = list(backend.stream(request, cancel))
    generated = "".join(t.text for t in tokens)
    end = function_end(generated, language, header, indent)
    generated = generated if end is None else generated[:end]
    result = ModelFix(target, Verdict(False), region=region, replacement=header + generated,
                      prompt_tokens=len(prompt.ids), generated_tokens=len(tokens), context=described)
    if cancel is not None and cancel.cancelled:
        result.verdict = Verdict(False, ["cancelled"])
    else:
        body = generated.rstrip()
        candidate = text[: region.body_start] + body + text[region.end:]
        result.verdict = verify_fix(text, candidate, target.finding, language, region=region,
                                    target_range=target.range, path=path, options=options)
        if result.verdict.ok:
            result.candidate = candidate
    result.seconds = time.perf_counter() - t0
    log.info("model fix for %s at %s:%d: %s in %.1f s (%d prompt tokens)", target.code or "a diagnostic", path,
             target.range.start.line1, "verified" if result.ok else "; ".join(result.verdict.reasons),
             result.seconds, result.prompt_tokens)
    return result


def finding_at(findings: list[CweFinding], line: int, character: int) -> CweFinding | None:
    """The finding at a 0-based position: the narrowest one containing it, else the first on its line."""
    here = Position(line, character)
    containing = [f for f in findings if f.range.start <= here <= f.range.end]
    if containing:
        return min(containing, key=lambda f: (f.range.end.line - f.range.start.line,
                                              f.range.end.character - f.range.start.character))
    return next((f for f in findings if f.range.start.line <= line <= f.range.end.line), None)


# -- the server side ---------------------------------------------------------------------------


@dataclass
class _Scan:
    version: int | None
    text: str
    findings: list[CweFinding]


class SecurityFeature:
    """Diagnostics and code actions for one server. Methods without ``async`` run on the event loop."""

    def __init__(self, server, delay_s: float = DIAGNOSTIC_DELAY_S):
        self.server = server
        self.delay_s = delay_s
        self.scan_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qcn-security")
        self.fix_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qcn-fix")
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._generation: dict[str, int] = {}
        self.scans: dict[str, _Scan] = {}  # uri -> the last published scan

    @property
    def enabled(self) -> bool:
        return self.server.state.settings.security_diagnostics

    # --- diagnostics ---
    def schedule(self, uri: str) -> None:
        """Scan ``uri`` after ``delay_s`` unless another change comes first (that one supersedes it)."""
        if not self.enabled or not self._scannable(uri):
            return
        generation = self._generation[uri] = self._generation.get(uri, 0) + 1
        timer = self._timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        loop = asyncio.get_running_loop()
        self._timers[uri] = loop.call_later(self.delay_s, lambda: loop.create_task(self._publish(uri, generation)))

    def _scannable(self, uri: str) -> bool:
        from pygls.uris import to_fs_path

        doc = self.server.workspace.text_documents.get(uri)
        return doc is not None and scan_language(to_fs_path(uri) or uri, getattr(doc, "language_id", None)) is not None

    async def _publish(self, uri: str, generation: int) -> None:
        self._timers.pop(uri, None)
        scan = await self.scan(uri)
        if scan is None or self._generation.get(uri) != generation or not self.enabled:
            return  # superseded by a newer change, or closed
        lines = text_lines(scan.text, self.server.position_encoding)
        self.server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=uri, version=scan.version, diagnostics=[to_diagnostic(f, lines, uri) for f in scan.findings]))

    async def scan(self, uri: str) -> _Scan | None:
        """Findings for the open document's current text (cached per version); None if it is not open."""
        doc = self.server.workspace.text_documents.get(uri)
        if doc is None:
            return None
        text, version = doc.source, doc.version
        if len(text) > ANALYSED_DOCUMENT_BYTES:  # the size policy: not scanned (the user was told once)
            return _Scan(version, text, [])
        cached = self.scans.get(uri)
        if cached is not None and cached.version == version and cached.text == text:
            return cached
        language_id = getattr(doc, "language_id", None)
        findings = await asyncio.get_running_loop().run_in_executor(
            self.scan_pool, self.scan_text, uri, text, language_id)
        if uri not in self.server.workspace.text_documents:
            return None
        scan = self.scans[uri] = _Scan(version, text, findings)
        return scan

    def scan_text(self, uri: str, text: str, language_id: str | None = None) -> list[CweFinding]:
        """Runs on the security thread: the index's parse tree when it is of exactly this text."""
        from pygls.uris import to_fs_path

        fs = to_fs_path(uri) or uri
        index = self.server.index_for(fs)
        language = scan_language(fs, language_id)
        if language is None:
            return []
        tree = None
        if index is not None:
            try:
                parsed = index.parsed(fs)
            except Exception:  # the index must not stop diagnostics: scan with our own parse
                log.exception("the index could not give a tree for %s", fs)
                parsed = None
            if parsed is not None and parsed.language == language and parsed.source == text.encode("utf-8"):
                tree = parsed.tree
        try:
            return scan_source(fs, text, language, tree=tree)
        except Exception:
            log.exception("security scan of %s failed", fs)
            return []

    def clear(self, uri: str) -> None:
        """Withdraw ``uri``'s diagnostics (closed, or the setting turned off); a pending scan is dropped."""
        timer = self._timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        self._generation[uri] = self._generation.get(uri, 0) + 1
        if self.scans.pop(uri, None) is None and timer is None:
            return  # nothing was published for it
        self.server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    def settings_changed(self, was_enabled: bool) -> None:
        if was_enabled and not self.enabled:
            for uri in list(self.scans) + list(self._timers):
                self.clear(uri)
        elif self.enabled and not was_enabled:
            for uri in list(self.server.workspace.text_documents):
                self.schedule(uri)

    # --- code actions ---
    async def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = params.text_document.uri
        doc = self.server.workspace.text_documents.get(uri)
        if doc is None:
            return []
        only = params.context.only
        if only and not any(types.CodeActionKind.QuickFix.value.startswith(str(getattr(k, "value", k)))
                            for k in only):
            return []
        lines = text_lines(doc.source, self.server.position_encoding)
        actions: list[types.CodeAction] = []
        findings: list[CweFinding] = []
        if self.enabled:
            scan = await self.scan(uri)
            findings = scan.findings if scan is not None else []
        wanted = from_lsp_range(params.range, lines)
        sent = {(d.code, d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character): d
                for d in params.context.diagnostics if d.source == SOURCE}
        for f in findings:
            diag = to_diagnostic(f, lines, uri)
            key = (diag.code, diag.range.start.line, diag.range.start.character, diag.range.end.line,
                   diag.range.end.character)
            overlaps = f.range.start <= wanted.end and wanted.start <= f.range.end
            if key not in sent and not overlaps:
                continue
            diag = sent.get(key, diag)
            if f.fix is not None:
                actions.append(types.CodeAction(
                    title=f.fix.title, kind=types.CodeActionKind.QuickFix, diagnostics=[diag], is_preferred=True,
                    edit=types.WorkspaceEdit(changes={uri: to_lsp_edits(f.fix.edits, lines)})))
            actions.append(types.CodeAction(
                title=FixTarget.of(f).title, kind=types.CodeActionKind.QuickFix, diagnostics=[diag],
                data={"qcn": "model-fix", "uri": uri, "version": doc.version, "ruleId": f.rule_id,
                      "range": _range_list(f.range)}))
        for d in params.context.diagnostics:
            if d.source == SOURCE:
                continue
            rng = from_lsp_range(d.range, lines)
            actions.append(types.CodeAction(
                title=f"Fix with {MODEL_NAME}", kind=types.CodeActionKind.QuickFix, diagnostics=[d],
                data={"qcn": "model-fix", "uri": uri, "version": doc.version, "range": _range_list(rng),
                      "message": d.message, "code": "" if d.code is None else str(d.code),
                      "source": d.source or ""}))
        return actions

    async def resolve(self, action: types.CodeAction) -> types.CodeAction:
        data = action.data if isinstance(action.data, dict) else None
        if data is None or data.get("qcn") != "model-fix":
            return action
        uri = data.get("uri", "")
        doc = self.server.workspace.text_documents.get(uri)
        if doc is None:
            return self._refuse(action, "the document is not open")
        if doc.version != data.get("version"):
            return self._refuse(action, "the document changed since the fix was offered; ask again")
        text = doc.source
        target = await self._target(uri, text, data)
        if target is None:
            return self._refuse(action, "the finding is no longer reported")
        st = self.server.state
        if not st.model_ready.is_set():
            await asyncio.get_running_loop().run_in_executor(None, st.model_ready.wait, 120)
        if st.engine is None:
            return self._refuse(action, f"no model ({st.model_error or 'not loaded'})")
        from pygls.uris import to_fs_path

        fs = to_fs_path(uri) or uri
        language = scan_language(fs, getattr(doc, "language_id", None))
        if language is None:
            return self._refuse(action, "qcn cannot parse this language")
        index = self.server.index_for(fs)
        path = index.relpath(fs) if index is not None else fs.rsplit("/", 1)[-1]
        repo = index.root.name if index is not None else ""
        cancel = CancelToken()
        settings = st.settings

        def run() -> ModelFix:
            with self.server.progress(f"qcn: {target.title}") as progress:
                progress.report("asking the model")
                return model_fix(text, path, target, language, st.engine.backend, index=index, repo_name=repo,
                                 context_budget=settings.context_budget, cancel=cancel, session_key=f"fix:{uri}")

        future = asyncio.get_running_loop().run_in_executor(self.fix_pool, run)
        try:
            result = await asyncio.shield(future)
        except asyncio.CancelledError:
            cancel.cancel()  # $/cancelRequest: stop the decode loop between tokens
            raise
        except RemoteError as exc:  # the remote engine failed: no fix, and the reason
            return self._refuse(action, str(exc))
        edit = result.edit(text)
        current = self.server.workspace.text_documents.get(uri)
        if current is None or current.version != data.get("version"):
            return self._refuse(action, "the document changed while the fix was being made; ask again")
        if edit is None:
            return self._refuse(action, "; ".join(result.verdict.reasons) or "the model gave nothing")
        lines = text_lines(text, self.server.position_encoding)
        action.edit = types.WorkspaceEdit(changes={uri: to_lsp_edits([edit], lines)})
        self.server.tell(f"{target.title}: verified ({', '.join(result.verdict.checked)})")
        return action

    async def _target(self, uri: str, text: str, data: dict) -> FixTarget | None:
        try:
            rng = Range.of(*[int(x) for x in data["range"]])
        except (KeyError, TypeError, ValueError):
            return None
        rule = data.get("ruleId")
        if rule is None:
            return FixTarget(rng, str(data.get("message", "")), str(data.get("code", "")), str(data.get("source", "")))
        scan = await self.scan(uri)
        for f in scan.findings if scan is not None else []:
            if f.rule_id == rule and f.range == rng:
                return FixTarget.of(f)
        return None

    def _refuse(self, action: types.CodeAction, why: str) -> types.CodeAction:
        action.edit = None
        action.title = f"{action.title}: no verified fix"
        action.disabled = types.CodeActionDisabled(reason=f"no verified fix: {why}")
        self.server.notice_bad_input(f"{action.title} ({why}); nothing was changed", types.MessageType.Info,
                                     key=f"no verified fix: {why}")
        return action

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self.scan_pool.shutdown(wait=False, cancel_futures=True)
        self.fix_pool.shutdown(wait=False, cancel_futures=True)


def _range_list(rng: Range) -> list[int]:
    return [rng.start.line, rng.start.character, rng.end.line, rng.end.character]

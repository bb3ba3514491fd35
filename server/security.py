"""Security in the editor: CWE findings as diagnostics, quick fixes, and model fixes that are verified.

Plain functions first (each usable from a test and from ``qcn fix``):

- ``to_diagnostic``: a ``CweFinding`` (code-point columns) as an lsprotocol
  ``Diagnostic`` (columns in the negotiated position encoding), with code, CWE
  link, severity by confidence and the taint source as related information;
- ``model_fix``: prompt → model → candidate → verification, for a qcn finding or
  for any diagnostic (``FixTarget``).

The knowledge they use is the indexer's: ``enclosing_region`` (the function a
fix may rewrite, ``qcn.indexer.security.regions``), ``verify_fix`` (the checks
a candidate must pass, ``qcn.indexer.security.verify``), the scanner and its
languages (``qcn.indexer.security``), and positions (``qcn.indexer.positions``,
wrapped for lsprotocol in ``qcn.server.positions``).

Then ``SecurityFeature``, the server side: per-document debounced scans on a
thread of their own (never the completion pool), publishing, the code actions
and their lazy resolution.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from lsprotocol import types

from qcn.indexer.parse import parse_source
from qcn.indexer.positions import LineIndex, Position
from qcn.indexer.security import CweFinding, Range, ScanOptions, TextEdit
from qcn.indexer.security.parsing import SUPPORTED, scan_language
from qcn.indexer.security.regions import Region, enclosing_region, names_used
from qcn.indexer.security.scanner import scan_indexed
from qcn.indexer.security.verify import Verdict, verify_fix
from qcn.model.backend import CancelToken, GenerationRequest
from qcn.model.remote import RemoteError
from qcn.server.positions import from_lsp_range, text_lines, to_lsp_edits, to_lsp_range
from qcn.server.settings import ANALYSED_DOCUMENT_BYTES

log = logging.getLogger(__name__)

SOURCE = "qcn"
MODEL_NAME = "Qwen3-Coder-Next"
DIAGNOSTIC_DELAY_S = 0.3

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
        lines = LineIndex(original_text)
        new_end = len(self.candidate) - (len(original_text) - self.region.end)
        return TextEdit(Range(lines.char_position(self.region.start), lines.char_position(self.region.end)),
                        self.candidate[self.region.start: new_end])


def _used_definitions(text: str, language: str, region: Region, index, path: str, budget_chars: int, tree=None):
    """Definitions (from the index) of the names the function uses: the context a fix needs."""
    from qcn.model.prompt import ContextPiece

    if index is None:
        return [], []
    names = names_used(text, language, region, tree)
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
    tree = parse_source(language, text.encode("utf-8"))
    region = enclosing_region(text, language, target.range, source, tree=tree)
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
    pieces, described = _used_definitions(text, language, region, index, path, budget_chars=budget, tree=tree)
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
        try:
            options = ScanOptions(parameter_confidence=self.server.state.settings.security_parameter_confidence)
            return scan_indexed(self.server.index_for(fs), fs, text, language_id, options=options)
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
        language = scan_language(fs, getattr(doc, "language_id", None), text.encode("utf-8"))
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

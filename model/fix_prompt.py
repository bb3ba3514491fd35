"""Prompts that ask a FIM code model to rewrite one function so a reported problem is gone.

Qwen3-Coder-Next (and the embedded demo model) is trained on repository-level
fill-in-the-middle, so a fix is asked for as a FIM hole where the function
body was, not as a chat turn (shared/DESIGN.md §2: never a chat template)::

    <|repo_name|>{repo}\\n
    <|file_sep|>{path}\\n{definitions the function uses}\\n    ← context, most relevant nearest the file
    <|file_sep|>{current path}\\n
    <|fim_prefix|>{file up to the function}
    {comment: "Security fix (CWE-89 SQL injection): guidance"}  ← the instruction, in the language's comments
    {comment: "Before the fix:" and the old function, commented out}
    {the function's header, when the problem is not in it}
    <|fim_suffix|>{file after the function}
    <|fim_middle|>                                             ← the model writes the (new) body here

The instruction is a comment directly above the function because that is
where code models have seen "what this code must do" in training; it is part
of the prompt only, never of the edit. The old function is shown commented out
(so the model knows what the code does) rather than as live code in the
prefix; a model that copies it back anyway is caught by verification, which
refuses a candidate that still has the finding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qcn.model.prompt import ContextPiece, FimInput, FimPrompt, PromptBuilder, PromptLimits


@dataclass(frozen=True)
class FixPromptInput:
    path: str  # the current file, as shown after <|file_sep|>
    before: str  # the file's text up to the function (its line's indentation included)
    header: str  # the function's header lines (kept), or "" when the model writes the whole function
    after: str  # the file's text after the function
    instruction: str  # what to fix and how, one paragraph
    comment: str = "#"  # the language's line-comment marker
    indent: str = ""  # the function's indentation, for the instruction comment
    context: Sequence[ContextPiece] = ()
    repo_name: str = ""
    original: str = ""  # the function as it is, shown commented out ("" leaves it out)


def instruction_comment(instruction: str, comment: str, indent: str, width: int = 96) -> str:
    """``instruction`` as line comments at ``indent``, wrapped at ``width`` characters."""
    words = instruction.split()
    lines, line = [], ""
    for word in words:
        if line and len(indent) + len(comment) + 1 + len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return "".join(f"{indent}{comment} {text}\n" for text in lines)


def commented_out(code: str, comment: str, indent: str) -> str:
    """``code`` (lines starting at ``indent``) as line comments at ``indent``, its own indentation kept."""
    out = []
    for line in code.rstrip("\n").split("\n"):
        body = line[len(indent):] if line.startswith(indent) else line.lstrip()
        out.append(f"{indent}{comment} {body}".rstrip() + "\n")
    return "".join(out)


def build_fix_prompt(builder: PromptBuilder, request: FixPromptInput, limits: PromptLimits) -> FimPrompt:
    """The FIM prompt for one fix (see the module docstring for the layout).

    ``request.before`` ends at the start of the function's line, so the
    instruction comment and the header follow it on lines of their own.
    """
    before = request.before
    own_line = before[before.rfind("\n") + 1:]
    if own_line.strip():  # the function does not start a line (e.g. a lambda): keep the comment apart
        before += "\n"
        own_line = ""
    head = before[: len(before) - len(own_line)]
    note = instruction_comment(request.instruction, request.comment, request.indent)
    if request.original:
        note += f"{request.indent}{request.comment} Before the fix:\n"
        note += commented_out(request.indent + request.original, request.comment, request.indent)
    prefix = head + note + own_line + request.header
    return builder.build(FimInput(request.path, prefix, request.after, request.context, request.repo_name), limits)

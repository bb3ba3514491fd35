"""Abstract values for the taint interpreter: taint labels, constants and containers."""

from __future__ import annotations

from dataclasses import dataclass

ALL = 0  # "sanitised for every CWE"


class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:  # pragma: no cover - guard against accidental truth tests
        raise TypeError("UNKNOWN has no truth value")


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class Origin:
    """Where untrusted data came from: a real source (node span) or a function parameter (summaries)."""

    description: str
    start_byte: int = -1
    end_byte: int = -1
    param: int = -1  # >= 0: symbolic "parameter i" label used for function summaries
    remote: bool = False  # from the network (a request, a socket), not the local user (argv, environment)
    caller: bool = False  # a parameter of a public function: untrusted only if some caller passes such data

    @property
    def is_param(self) -> bool:
        return self.param >= 0


@dataclass(frozen=True)
class Label:
    origin: Origin
    cleansed: frozenset[int] = frozenset()  # CWEs this data has been sanitised for (ALL = every CWE)

    def reaches(self, cwe: int) -> bool:
        return ALL not in self.cleansed and cwe not in self.cleansed


@dataclass(frozen=True)
class Value:
    labels: frozenset[Label] = frozenset()
    const: object = UNKNOWN  # str/int/float/bool/None when known at analysis time
    items: tuple[Value, ...] | None = None  # list-like with known element order
    keys: tuple[tuple[object, Value], ...] | None = None  # dict-like with constant keys
    kind: str = ""  # "request" for request objects, "file" for open files, "" otherwise
    type_name: str = ""  # declared type, when the language says it
    safe: frozenset[int] = frozenset()  # CWEs a sanitiser made this (non-constant) value safe for; ALL = any

    # -- construction -------------------------------------------------
    @staticmethod
    def constant(v: object) -> Value:
        return Value(const=v)

    @staticmethod
    def of_list(items: list[Value] | tuple[Value, ...]) -> Value:
        items = tuple(items)
        return Value(labels=_union(i.labels for i in items), items=items)

    @staticmethod
    def of_dict(pairs: list[tuple[object, Value]] | tuple[tuple[object, Value], ...]) -> Value:
        pairs = tuple(pairs)
        return Value(labels=_union(v.labels for _, v in pairs), keys=pairs)

    # -- queries --------------------------------------------------------
    @property
    def is_const(self) -> bool:
        if self.items is not None:
            return not self.labels and all(i.is_const for i in self.items)
        if self.keys is not None:
            return not self.labels and all(v.is_const for _, v in self.keys)
        return self.const is not UNKNOWN

    def safe_for(self, cwe: int) -> bool:
        """Built only from constants and sanitiser output for ``cwe`` (so not attacker-controlled)."""
        return self.is_const or ALL in self.safe or cwe in self.safe

    def reaching(self, cwe: int, remote_only: bool = False) -> list[Label]:
        """The labels that reach a sink of ``cwe`` unsanitised; ``remote_only`` leaves out the local user's data
        (argv, environment) but keeps a public function's parameters, which a caller may fill from the network
        (their findings get the parameter confidence)."""
        return sorted((lb for lb in self.labels if lb.reaches(cwe) and not lb.origin.is_param
                       and (lb.origin.remote or lb.origin.caller or not remote_only)),
                      key=lambda lb: (lb.origin.start_byte, lb.origin.description))

    def get_item(self, key: object) -> Value:
        if key is not UNKNOWN:
            if self.items is not None and isinstance(key, int) and not isinstance(key, bool):
                if -len(self.items) <= key < len(self.items):
                    return self.items[key]
            if self.keys is not None:
                for k, v in self.keys:
                    if k == key:
                        return v
                if not self.labels:
                    return Value()
            if isinstance(self.const, str) and isinstance(key, int) and -len(self.const) <= key < len(self.const):
                return Value.constant(self.const[key])
        return Value(labels=self.labels)

    # -- combination ----------------------------------------------------
    def join(self, other: Value) -> Value:
        if self == other:
            return self
        const = self.const if self.const == other.const and type(self.const) is type(other.const) else UNKNOWN
        items = None
        if self.items is not None and other.items is not None and len(self.items) == len(other.items):
            items = tuple(a.join(b) for a, b in zip(self.items, other.items))
        keys = None
        if self.keys is not None and other.keys is not None:
            merged: dict = {}
            for k, v in self.keys + other.keys:
                merged[k] = merged[k].join(v) if k in merged else v
            keys = tuple(merged.items())
        return Value(
            labels=self.labels | other.labels, const=const, items=items, keys=keys,
            kind=self.kind if self.kind == other.kind else "",
            type_name=self.type_name if self.type_name == other.type_name else "",
            safe=meet(safe_of(self), safe_of(other)),
        )

    def cleansed(self, cwes: frozenset[int]) -> Value:
        safe = cwes | (safe_of(self) if not self.labels else frozenset())
        if ALL in cwes:
            return Value(const=self.const, safe=safe)
        return Value(labels=frozenset(Label(lb.origin, lb.cleansed | cwes) for lb in self.labels), const=self.const,
                     safe=safe)


def safe_of(v: Value) -> frozenset[int]:
    return frozenset({ALL}) if v.is_const else v.safe


def meet(a: frozenset[int], b: frozenset[int]) -> frozenset[int]:
    if ALL in a:
        return b
    if ALL in b:
        return a
    return a & b


def join_all(values) -> Value:
    out = None
    for v in values:
        out = v if out is None else out.join(v)
    return out if out is not None else Value()


def propagate(values) -> Value:
    """A derived value (string building, a call): the union of the inputs' taint, no constant; safe for
    what every input is safe for (constants are safe for everything)."""
    values = list(values)
    safe = frozenset({ALL})
    for v in values:
        safe = meet(safe, safe_of(v))
    return Value(labels=_union(v.labels for v in values), safe=safe if values else frozenset())


def _union(sets) -> frozenset:
    out: set = set()
    for s in sets:
        out |= s
    return frozenset(out)

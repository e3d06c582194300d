"""A spec's checks: CEL invariants over `input` and `output`, and grounded output strings.

CEL is evaluated by `common-expression-language` (Python bindings of the Rust `cel`
crate): each expression is compiled once per spec version and evaluated on every answer
in tens of microseconds, and it compares JSON numbers across int and double (`1 == 1.0`),
as checks over model output need. Besides CEL's standard library, checks may use:

- `sum(list)` or `list.sum()`: the sum of a list of numbers (0 for an empty list);
- `approx(a, b, tol)`: |a - b| <= tol, for amounts a model copies or adds up;
- `near(a, b, rel)`: |a - b| <= rel * max(|a|, |b|), a relative tolerance;
- `lower(s)`: `s` case-folded, to compare text regardless of case.

JSON numbers reach CEL as doubles, as CEL's own JSON mapping (`google.protobuf.Value`) has
them: `output.quantity * output.unit_price` works whether the model wrote 3 or 3.0, and a
literal in arithmetic with them is written as a double (`output.total + 1.0`).

An expression that cannot be evaluated on an answer (a field the answer lacks, a division by
zero) fails its check: the answer does not show the invariant holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cel

from app.compiler.document import Check, Severity
from app.compiler.grounding import CHECK_NAME as GROUNDING
from app.compiler.grounding import GroundedField, InputText, grounded_fields, ungrounded
from app.core.errors import Issue


class CheckFunctionError(ValueError):
    """A check's helper was called with values it cannot take."""


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CheckFunctionError(f"{name} takes numbers, got {type(value).__name__}")
    return float(value)


def _sum(values: Any) -> float:
    if not isinstance(values, list):
        raise CheckFunctionError(f"sum takes a list, got {type(values).__name__}")
    return math.fsum(_number(v, "sum") for v in values)


def _approx(a: Any, b: Any, tol: Any) -> bool:
    return abs(_number(a, "approx") - _number(b, "approx")) <= _number(tol, "approx")


def _near(a: Any, b: Any, rel: Any) -> bool:
    x, y = _number(a, "near"), _number(b, "near")
    return abs(x - y) <= _number(rel, "near") * max(abs(x), abs(y))


def _lower(text: Any) -> str:
    if not isinstance(text, str):
        raise CheckFunctionError(f"lower takes a string, got {type(text).__name__}")
    return text.casefold()


FUNCTIONS: dict[str, Any] = {"sum": _sum, "approx": _approx, "near": _near, "lower": _lower}


def compile_expression(expression: str) -> cel.Program:
    """The compiled program; raises ValueError with the parser's message on a syntax error."""
    return cel.compile(expression)


@dataclass(frozen=True, slots=True)
class _Program:
    name: str
    program: cel.Program
    message: str
    severity: Severity
    reads_input: bool


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The checks' verdict on one answer: the failures that refuse it, and those that warn."""

    errors: tuple[Issue, ...]
    warnings: tuple[Issue, ...]


NO_FAILURES = CheckResult((), ())


def _program(check: Check) -> _Program:
    program = compile_expression(check.assertion)
    reads_input = "input" in program.variables()
    return _Program(check.name, program, check.message, check.severity, reads_input)


class SpecChecks:
    """A spec's checks compiled once; judges each schema-valid answer."""

    __slots__ = ("_grounded", "_programs")

    def __init__(self, checks: Sequence[Check], output_schema: Mapping[str, Any]) -> None:
        self._programs = tuple(_program(c) for c in checks)
        self._grounded: tuple[GroundedField, ...] = grounded_fields(output_schema)

    def __bool__(self) -> bool:
        return bool(self._programs or self._grounded)

    @property
    def names(self) -> tuple[str, ...]:
        """The checks by name, grounding (`x-grounded`) last when the output has any."""
        grounding = (GROUNDING,) if self._grounded else ()
        return (*(p.name for p in self._programs), *grounding)

    def judge(self, input: Any, input_text: Any, output: Any) -> CheckResult:
        """Every check `output` fails, for the call's `input`; `input_text` is the input as
        the model read it (document fields holding their text), which grounding searches."""
        if not self:
            return NO_FAILURES
        failed = [*self._failed(input, output), *self._ungrounded(input_text, output)]
        errors = tuple(i for i, severity in failed if severity == "error")
        warnings = tuple(i for i, severity in failed if severity == "warn")
        return CheckResult(errors, warnings)

    def _failed(self, input: Any, output: Any) -> list[tuple[Issue, Severity]]:
        if not self._programs:
            return []
        try:
            variables = {"output": as_cel_json(output)}
            if any(p.reads_input for p in self._programs):
                variables["input"] = as_cel_json(input)
            context: cel.Context | None = cel.Context(variables=variables, functions=FUNCTIONS)
        except RecursionError:  # an answer nested deeper than Python recurses: no check holds
            context = None
        failed: list[tuple[Issue, Severity]] = []
        for program in self._programs:
            problem = (
                _evaluate(program.program, context)
                if context is not None
                else "could not be evaluated: nested too deeply"
            )
            if problem is not None:
                message = program.message if not problem else f"{program.message} ({problem})"
                failed.append((Issue("", message, check=program.name), program.severity))
        return failed

    def _ungrounded(self, input_text: Any, output: Any) -> list[tuple[Issue, Severity]]:
        if not self._grounded:
            return []
        issues = ungrounded(self._grounded, output, InputText(input_text))
        return [(issue, "error") for issue in issues]


def as_cel_json(value: Any) -> Any:
    """A JSON value as CEL reads JSON: every number a double."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {k: as_cel_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_cel_json(v) for v in value]
    return value


def _evaluate(program: cel.Program, context: cel.Context) -> str | None:
    """None when the check holds; else why not ("" when it is simply false)."""
    try:
        result = program.execute(context)
    except Exception as exc:  # the bindings raise bare RuntimeError, KeyError, ValueError…
        return f"could not be evaluated: {_short(exc)}"
    if result is True:
        return None
    if result is False:
        return ""
    return f"gave {type(result).__name__}, not a boolean"


def _short(exc: Exception) -> str:
    if isinstance(exc, KeyError) and exc.args:
        return f"no field {exc.args[0]!r}"
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."

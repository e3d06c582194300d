"""Type-checking a check's CEL expression against the spec's schemas, when it is written.

The CEL engine (`app.compiler.checks`) sees JSON as untyped maps, so a misspelt field or
a string compared with a number would only show when a call fails. Here the expression's
parse tree (cel-python's Lark grammar of the CEL spec: `celpy.celparser`) is walked with a
type for every node taken from the input and output schemas: selecting a field the schema
does not declare, or combining values whose types can never meet (`output.name > 3`,
`output.total.startsWith("x")`), is an issue. Where a schema leaves a type open the
value is dynamic and anything goes, as in CEL itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import cel
from lark import Token, Tree
from lark.exceptions import LarkError

from app.compiler.cel_types import (
    BOOL,
    DOUBLE,
    DYN,
    INT,
    STRING,
    CelType,
    Schema,
    described,
    from_schema,
    kind,
    what,
)


class CheckTypeError(Exception):
    """The expression cannot type-check; the message says where and why."""


_GLOBAL_RESULTS: dict[str, CelType] = {
    "has": BOOL,
    "size": INT,
    "int": INT,
    "uint": kind("uint"),
    "double": DOUBLE,
    "string": STRING,
    "bool": BOOL,
    "bytes": kind("bytes"),
    "timestamp": kind("timestamp"),
    "duration": kind("duration"),
    "matches": BOOL,
    "sum": DOUBLE,
    "approx": BOOL,
    "near": BOOL,
    "lower": STRING,
    "dyn": DYN,
    "type": DYN,
}
# Methods by receiver kind, and what they give.
_METHODS: dict[str, tuple[frozenset[str], CelType]] = {
    "contains": (frozenset({"string"}), BOOL),
    "startsWith": (frozenset({"string"}), BOOL),
    "endsWith": (frozenset({"string"}), BOOL),
    "matches": (frozenset({"string"}), BOOL),
    "lower": (frozenset({"string"}), STRING),
    "size": (frozenset({"string", "list", "map", "bytes"}), INT),
    "sum": (frozenset({"list"}), DOUBLE),
}
_MACROS = {"all", "exists", "exists_one", "map", "filter"}


@cache
def _parser() -> Any:
    # Imported on first use: only writing a spec needs the parser (a Lark grammar to build).
    from celpy.celparser import CELParser

    return CELParser()


def parse(expression: str) -> Tree[Token]:
    """The Lark parse tree of a CEL expression; CheckTypeError when it does not parse."""
    try:
        tree: Tree[Token] = _parser().parse(expression)
    except (LarkError, Exception) as exc:  # celpy wraps Lark's errors in its own
        raise CheckTypeError(f"could not parse: {str(exc).splitlines()[0]}") from None
    return tree


def type_check(expression: str, input_schema: Schema, output_schema: Schema) -> CelType:
    """The expression's type; CheckTypeError for an unknown field or a type mismatch."""
    scope = {
        "input": from_schema(input_schema, input_schema, "input"),
        "output": from_schema(output_schema, output_schema, "output"),
    }
    tree = parse(expression)
    try:
        return _Checker().node(tree, scope)
    except RecursionError:
        raise CheckTypeError("nested too deeply to check; write it more simply") from None


Scope = dict[str, CelType]


class _Checker:
    """Walks a parse tree, giving each node its type (one method per grammar rule)."""

    def __init__(self) -> None:
        self._rules: dict[str, Callable[[list[Any], Scope], CelType]] = {
            "expr": self._ternary,
            "conditionalor": self._logical,
            "conditionaland": self._logical,
            "relation": self._relation,
            "addition": self._arithmetic,
            "multiplication": self._arithmetic,
            "unary": self._unary,
            "member_dot": self._select,
            "member_dot_arg": self._method,
            "member_index": self._index,
            "ident_arg": self._call,
            "ident": self._ident,
            "literal": self._literal,
            "list_lit": self._list,
            "map_lit": self._map,
        }

    def node(self, tree: Any, scope: Scope) -> CelType:
        if not isinstance(tree, Tree):
            return DYN
        children = [c for c in tree.children if c is not None]
        rule = self._rules.get(str(tree.data))
        if rule is not None:
            return rule(children, scope)
        if len(children) == 1:  # member, primary, paren_expr…: the child's type
            return self.node(children[0], scope)
        return DYN  # dot_ident, member_object: nothing schemas can say

    def _ternary(self, children: list[Any], scope: Scope) -> CelType:
        if len(children) == 1:
            return self.node(children[0], scope)
        _expect_bool(self.node(children[0], scope), "the condition of ?:")
        then, other = self.node(children[1], scope), self.node(children[2], scope)
        return then if then.kinds == other.kinds else DYN

    def _logical(self, children: list[Any], scope: Scope) -> CelType:
        if len(children) == 1:
            return self.node(children[0], scope)
        for child in children:
            _expect_bool(self.node(child, scope), "&& and ||")
        return BOOL

    def _relation(self, children: list[Any], scope: Scope) -> CelType:
        if len(children) == 1:
            return self.node(children[0], scope)
        operator, right = children[0], self.node(children[1], scope)
        left = self.node(operator.children[0], scope)
        op = str(operator.data).removeprefix("relation_")
        if op == "in":
            if not right.dynamic and not right.kinds & {"list", "map"}:
                raise CheckTypeError(f"'in' needs a list or map on its right, not {what(right)}")
        elif not left.meets(right) and not (op in ("eq", "ne") and _has_null(left, right)):
            raise CheckTypeError(f"{described(left)} cannot be compared with {described(right)}")
        return BOOL

    def _arithmetic(self, children: list[Any], scope: Scope) -> CelType:
        if len(children) == 1:
            return self.node(children[0], scope)
        operator, right = children[0], self.node(children[1], scope)
        left = self.node(operator.children[0], scope)
        op = str(operator.data).split("_")[-1]
        allowed = {"add": ("int", "double", "string", "list", "bytes")}.get(op, ("int", "double"))
        for side in (left, right):
            if side.kinds and not side.kinds & set(allowed):
                raise CheckTypeError(f"'{_SIGNS[op]}' does not apply to {what(side)}")
        if {left.kinds, right.kinds} == {INT.kinds, DOUBLE.kinds}:
            raise CheckTypeError(
                f"CEL does not mix integers and numbers in '{_SIGNS[op]}': JSON numbers are "
                "doubles, so write a literal as 2.0 rather than 2, or convert with double()"
            )
        if left.kinds and right.kinds and not left.kinds & right.kinds:
            raise CheckTypeError(f"{described(left)} and {described(right)} cannot be combined")
        return left if left.kinds else right

    def _unary(self, children: list[Any], scope: Scope) -> CelType:
        if len(children) == 1:
            return self.node(children[0], scope)
        operand = self.node(children[1], scope)
        if str(children[0].data) == "unary_not":
            _expect_bool(operand, "'!'")
            return BOOL
        if operand.kinds and not operand.kinds & {"int", "double"}:
            raise CheckTypeError(f"'-' does not apply to {what(operand)}")
        return operand

    def _select(self, children: list[Any], scope: Scope) -> CelType:
        base, field = self.node(children[0], scope), str(children[1])
        return self.field(base, field)

    def field(self, base: CelType, field: str) -> CelType:
        """The type of `base.field`; CheckTypeError when the schema has no such field."""
        label = f"{base.label}.{field}"
        if base.dynamic or base.schema is None:
            return CelType(frozenset(), None, label)
        if "map" not in base.kinds:
            raise CheckTypeError(f"{base.label} is {what(base)}: it has no field {field!r}")
        properties = base.schema.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        if field in properties:
            return from_schema(properties[field], base.root or {}, label)
        extra = base.schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            return from_schema(extra, base.root or {}, label)
        if base.schema.get("patternProperties") or (not properties and extra is not False):
            return CelType(frozenset(), None, label)
        known = ", ".join(sorted(properties)) or "none"
        raise CheckTypeError(f"{base.label} has no field {field!r} (its fields: {known})")

    def _index(self, children: list[Any], scope: Scope) -> CelType:
        base = self.node(children[0], scope)
        self.node(children[1], scope)
        return self.item(base)

    def item(self, base: CelType) -> CelType:
        """The type of an item of a list (or a value of a map)."""
        label = f"{base.label}[]"
        if base.dynamic or base.schema is None:
            return CelType(frozenset(), None, label)
        if base.kinds & {"list", "map"} != base.kinds:
            raise CheckTypeError(f"{base.label} is {what(base)}: it cannot be indexed")
        items = base.schema.get("items") if "list" in base.kinds else None
        items = items if items is not None else base.schema.get("additionalProperties")
        if isinstance(items, Mapping):
            return from_schema(items, base.root or {}, label)
        return CelType(frozenset(), None, label)

    def _method(self, children: list[Any], scope: Scope) -> CelType:
        receiver, name = self.node(children[0], scope), str(children[1])
        args = _args(children[2:])
        if name in _MACROS:
            return self._macro(receiver, name, args, scope)
        for arg in args:
            self.node(arg, scope)
        if name not in _METHODS:
            raise CheckTypeError(f"unknown function {name!r}")
        if name == "matches" and args:
            _check_pattern(args[0])
        kinds, result = _METHODS[name]
        if receiver.kinds and not receiver.kinds & kinds:
            raise CheckTypeError(f"{name}() does not apply to {receiver.label}, {what(receiver)}")
        return result

    def _macro(self, receiver: CelType, name: str, args: list[Any], scope: Scope) -> CelType:
        if len(args) < 2 or _ident_name(args[0]) is None:
            raise CheckTypeError(f"{name}() takes a variable name and an expression")
        if receiver.kinds and not receiver.kinds & {"list", "map"}:
            raise CheckTypeError(f"{name}() needs a list, but {receiver.label} is {what(receiver)}")
        variable = _ident_name(args[0]) or ""
        element = STRING if receiver.only("map") else self.item(receiver)
        inner = {**scope, variable: CelType(element.kinds, element.schema, variable, element.root)}
        types = [self.node(arg, inner) for arg in args[1:]]
        if name in ("all", "exists", "exists_one", "filter") or len(args) == 4:
            _expect_bool(types[0], f"the condition of {name}()")
        if name == "map":
            out = types[-1]
            items = out.schema or {}
            return CelType(frozenset({"list"}), {"items": items}, receiver.label, out.root)
        return receiver if name == "filter" else BOOL

    def _call(self, children: list[Any], scope: Scope) -> CelType:
        name, args = str(children[0]), _args(children[1:])
        for arg in args:
            self.node(arg, scope)
        if name not in _GLOBAL_RESULTS:
            raise CheckTypeError(f"unknown function {name!r}")
        if name == "matches" and len(args) == 2:
            _check_pattern(args[1])
        return _GLOBAL_RESULTS[name]

    def _ident(self, children: list[Any], scope: Scope) -> CelType:
        name = str(children[0])
        if name not in scope:
            raise CheckTypeError(f"unknown name {name!r}: a check reads input and output")
        return scope[name]

    def _literal(self, children: list[Any], scope: Scope) -> CelType:
        token = children[0].type if isinstance(children[0], Token) else ""
        return {
            "STRING_LIT": STRING,
            "MLSTRING_LIT": STRING,
            "BYTES_LIT": kind("bytes"),
            "BOOL_LIT": BOOL,
            "NULL_LIT": kind("null"),
            "INT_LIT": INT,
            "UINT_LIT": kind("uint"),
        }.get(token, DOUBLE)

    def _list(self, children: list[Any], scope: Scope) -> CelType:
        for arg in _args(children):
            self.node(arg, scope)
        return CelType(frozenset({"list"}), None, "a list")

    def _map(self, children: list[Any], scope: Scope) -> CelType:
        for part in children:
            for arg in part.children if isinstance(part, Tree) else []:
                self.node(arg, scope)
        return CelType(frozenset({"map"}), None, "a map")


_SIGNS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "mod": "%"}


def _check_pattern(tree: Any) -> None:
    """A literal regular expression must compile, as the engine that runs it compiles it:
    one that does not would fail the check on every answer."""
    literal = _literal_token(tree)
    if literal is None or literal.type not in ("STRING_LIT", "MLSTRING_LIT"):
        return
    try:  # the engine itself decides: its regex dialect is Rust's, not Python's
        cel.evaluate(f"''.matches({literal})")
    except Exception as exc:  # any refusal of the pattern is the author's to fix
        reason = " ".join(str(exc).split())
        raise CheckTypeError(f"not a valid regular expression: {reason[:200]}") from None


def _literal_token(tree: Any) -> Token | None:
    """The token when an expression is nothing but a literal."""
    while isinstance(tree, Tree):
        children = [c for c in tree.children if c is not None]
        if tree.data == "literal" and children and isinstance(children[0], Token):
            return children[0]
        if len(children) != 1:
            return None
        tree = children[0]
    return None


def _args(rest: list[Any]) -> list[Any]:
    """The expressions of an optional `exprlist`."""
    if rest and isinstance(rest[0], Tree) and rest[0].data == "exprlist":
        return [c for c in rest[0].children if c is not None]
    return []


def _ident_name(tree: Any) -> str | None:
    """The name when an expression is nothing but an identifier."""
    while isinstance(tree, Tree) and len([c for c in tree.children if c is not None]) == 1:
        if tree.data == "ident":
            return str(tree.children[0])
        tree = next(c for c in tree.children if c is not None)
    return None


def _expect_bool(kind: CelType, where: str) -> None:
    if kind.kinds and "bool" not in kind.kinds:
        raise CheckTypeError(f"{where} needs a boolean, but {kind.label} is {what(kind)}")


def _has_null(left: CelType, right: CelType) -> bool:
    return "null" in left.kinds or "null" in right.kinds

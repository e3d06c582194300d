"""Spec version -> prompt messages, provider-ready output schema and validators (pure)."""

from app.compiler.compiled import CACHE_SIZE, CompiledSpec, compile_spec
from app.compiler.prompt import INPUT_PLACEHOLDER
from app.compiler.strict import StrictForm, make_strict

__all__ = [
    "CACHE_SIZE",
    "INPUT_PLACEHOLDER",
    "CompiledSpec",
    "StrictForm",
    "compile_spec",
    "make_strict",
]

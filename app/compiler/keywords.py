"""JSON Schema keywords as strict structured-output modes see them (OpenAI's subset)."""

# Formats strict mode enforces; any other format would silently stop being enforced.
STRICT_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
)
# Provider limits on strict schemas; beyond them the provider rejects the request.
MAX_NESTING = 10
MAX_PROPERTIES = 5000
MAX_ENUM_VALUES = 1000

# Validation keywords strict mode enforces as JSON Schema does: copied as they are.
KEPT = frozenset(
    {
        "type",
        "enum",
        "const",
        "multipleOf",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "pattern",
        "minItems",
        "maxItems",
        "title",
        "description",
    }
)
# Keywords that constrain documents but strict mode rejects or ignores.
UNSUPPORTED = frozenset(
    {
        "allOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
        "dependentRequired",
        "dependentSchemas",
        "minLength",
        "maxLength",
        "patternProperties",
        "propertyNames",
        "unevaluatedProperties",
        "minProperties",
        "maxProperties",
        "prefixItems",
        "contains",
        "minContains",
        "maxContains",
        "uniqueItems",
        "unevaluatedItems",
        "$id",
        "$anchor",
        "$dynamicRef",
        "$dynamicAnchor",
        "$vocabulary",
    }
)
# Every other keyword is an annotation for JSON Schema 2020-12 (`default`, `examples`,
# `$comment`, unknown names...): it never changes validity, and strict mode rejects some of
# them (`default`), so the strict form leaves them out.

"""The offline model reading documents: labelled values in an uploaded document's text.

When a call carries a document, the offline model fills output fields whose
name is printed as a label in the text (`PO Number: 4500018342` fills `po_number`,
`Buyer: Acme Ltd` fills `buyer.name` when `buyer` is an object with a `name`). Values are
converted to the field's type (dates to YYYY-MM-DD, amounts to plain numbers) and kept only
when valid for the field; everything else stays generated. Deterministic and pure.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from app.jsonschema.generate import SchemaGenerator, pointer_join
from app.jsonschema.keywords import pick_type
from app.jsonschema.strings import label

# "Label: value", or "Label" then two or more spaces (a table-like layout), then the value.
_LINE = re.compile(r"^\s*([A-Za-z][\w .&/#()-]{0,60}?)\s*(?::|\s{2,})\s*(\S.*?)\s*$")
_PARENS = re.compile(r"\([^)]*\)")
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%d %B %Y", "%B %d, %Y", "%b %d, %Y")


def labelled_values(texts: Iterable[str]) -> dict[str, str]:
    """Each label's first value in the texts, by normalised label (`po number`)."""
    found: dict[str, str] = {}
    for text in texts:
        for line in text.splitlines():
            match = _LINE.match(line)
            if match:
                key = label(_PARENS.sub(" ", match.group(1)))
                found.setdefault(key, match.group(2))
    return found


def extract(
    texts: Iterable[str], schema: Mapping[str, Any], generator: SchemaGenerator
) -> dict[str, Any]:
    """JSON Pointer → value for the output fields the documents label, valid for each field."""
    values = labelled_values(texts)
    out: dict[str, Any] = {}
    properties = schema.get("properties")
    if not values or not isinstance(properties, Mapping):
        return out
    for name, sub in properties.items():
        if not isinstance(sub, Mapping):
            continue
        raw = values.get(label(name))
        if raw is None:
            continue
        if pick_type(sub) == "object" and isinstance(sub.get("properties"), Mapping):
            nested = sub["properties"].get("name")
            target, path = nested, pointer_join(pointer_join("", name), "name")
        else:
            target, path = sub, pointer_join("", name)
        if not isinstance(target, Mapping):
            continue
        value = _convert(raw, target)
        if value is not None and generator.is_valid(value, dict(target)):
            out[path] = value
    return out


def _convert(raw: str, schema: Mapping[str, Any]) -> Any:
    kind = pick_type(schema)
    if kind in ("number", "integer"):
        number = _number(raw)
        if number is None:
            return None
        return int(number) if kind == "integer" and number == int(number) else number
    if kind == "string" and schema.get("format") == "date":
        return _date(raw)
    return raw if kind == "string" else None


def _number(raw: str) -> float | None:
    digits = re.sub(r"[^\d.,-]", "", raw)
    if re.fullmatch(r"-?\d{1,3}(\.\d{3})+(,\d+)?|-?\d+,\d{1,2}", digits):  # 1.249,00 style
        digits = digits.replace(".", "").replace(",", ".")
    digits = digits.replace(",", "")
    try:
        return float(digits)
    except ValueError:
        return None


def _date(raw: str) -> str | None:
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(raw.strip(), fmt).date().isoformat()
        except ValueError:
            continue
    return None

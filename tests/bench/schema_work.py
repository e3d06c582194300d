"""How long the heaviest schema work takes on a near-limit adversarial document.

A 250 KB output schema: 1,500 definitions, each a backtracking pattern, a property and an
`allOf` through `$ref`s (chains of 10), 500 properties referring to them. Prints the seconds
spent checking the document (authoring), compiling it and diffing it against a one-keyword
change. Run: `.venv/bin/python -m tests.bench.schema_work`.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

from app.compiler.compiled import compile_spec
from app.compiler.document import content_hash, parse_document
from app.registry.contract import classify_contract
from tests.factories import make_document

SIZE = 1500


def adversarial_output() -> dict[str, Any]:
    defs: dict[str, Any] = {
        f"d{i}": {
            "allOf": [{"$ref": f"#/$defs/d{i + 1}" if i % 10 else "#/$defs/leaf"}],
            "type": "object",
            "properties": {
                "s": {"type": "string", "pattern": "^(a+)+$"},
                "n": {"$ref": f"#/$defs/d{i + 1}"},
            },
        }
        for i in range(SIZE)
    }
    defs[f"d{SIZE}"] = {"type": "string", "maxLength": 3}
    defs["leaf"] = {"type": "object"}
    properties = {f"p{i}": {"$ref": f"#/$defs/d{i}"} for i in range(0, SIZE, 3)}
    return {"type": "object", "$defs": defs, "properties": properties}


def main() -> None:
    output = adversarial_output()
    document = make_document(output_schema=output)
    document.pop("examples")
    document.pop("tests", None)
    print(f"document: {len(json.dumps(document)) // 1024} KB")
    started = time.perf_counter()
    parsed = parse_document(document)
    print(f"check:   {time.perf_counter() - started:.3f} s")
    started = time.perf_counter()
    compile_spec(parsed, content_hash(parsed))
    print(f"compile: {time.perf_counter() - started:.3f} s")
    changed = copy.deepcopy(output)
    changed["$defs"][f"d{SIZE}"]["maxLength"] = 4
    started = time.perf_counter()
    classify_contract(document["input_schema"], output, document["input_schema"], changed)
    print(f"diff:    {time.perf_counter() - started:.3f} s")


if __name__ == "__main__":
    main()

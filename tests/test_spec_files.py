"""The spec files in `specs/` are what a newcomer runs first: each must be a valid, complete
document whose tests can pass, including on the offline model.

Pure file checks (no database, no model): every file found by the glob is covered, so a new
or broken spec file fails here, loudly, with every problem listed.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from app.compiler.document import InvalidDocument, parse_document
from app.core.errors import pointer

SPECS_DIR = Path(__file__).resolve().parent.parent / "specs"
SPEC_FILES = sorted([*SPECS_DIR.glob("*.yaml"), *SPECS_DIR.glob("*.yml")])

MIN_RULES = 4
MIN_EXAMPLES = 1
MIN_TESTS = 3

# The offline model writes each `equals` value at its pointer and fills the rest of the output
# with generated values, so only these checks hold without a real model. Any other check
# (matches, min, max, one_of, ...) must sit on a path that an `equals` in the same test pins.
OFFLINE_SAFE_KEYS = {"path", "equals", "exists"}

OUTPUT_URI = "urn:specloom:output-schema"

spec_files = pytest.mark.parametrize("path", SPEC_FILES, ids=[p.name for p in SPEC_FILES])


@cache
def load(path: Path) -> dict[str, Any]:
    """The raw YAML of a spec file (before the document model drops or coerces anything)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name}: the top level must be a mapping"
    return data


def tokens(json_pointer: str) -> list[str]:
    """The reference tokens of an RFC 6901 JSON Pointer."""
    if json_pointer == "":
        return []
    if not json_pointer.startswith("/"):
        raise LookupError(f"{json_pointer!r} is not a JSON Pointer (it must start with '/')")
    return [t.replace("~1", "/").replace("~0", "~") for t in json_pointer[1:].split("/")]


def follow_ref(root: dict[str, Any], node: dict[str, Any], at: str) -> tuple[dict[str, Any], str]:
    """Follow local `$ref`s from `node` (at schema pointer `at`) to the schema they name."""
    while isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if not ref.startswith("#"):
            raise LookupError(f"only local $refs can be followed, not {ref!r}")
        at = ref[1:]
        node = root
        for token in tokens(at):
            node = node[int(token)] if isinstance(node, list) else node[token]
    return node, at


def schema_at(root: dict[str, Any], instance_pointer: str) -> tuple[dict[str, Any], str]:
    """The subschema an output value at `instance_pointer` must follow, and its schema pointer.

    Walks `properties` for object keys and `prefixItems`/`items` for array indices.
    """
    node, at = follow_ref(root, root, "")
    for token in tokens(instance_pointer):
        properties = node.get("properties", {})
        prefix = node.get("prefixItems", [])
        if token in properties:
            node, at = properties[token], at + pointer("properties", token)
        elif token.isdigit() and int(token) < len(prefix):
            node, at = prefix[int(token)], at + pointer("prefixItems", int(token))
        elif token.isdigit() and isinstance(node.get("items"), dict):
            node, at = node["items"], at + pointer("items")
        else:
            raise LookupError(f"the output schema has no place for {token!r}")
        node, at = follow_ref(root, node, at)
    return node, at


def always_present(root: dict[str, Any], instance_pointer: str) -> bool:
    """Whether every schema-valid output has a value at `instance_pointer`."""
    parts = tokens(instance_pointer)
    for depth, token in enumerate(parts):
        parent, _ = schema_at(root, pointer(*parts[:depth]))
        if token in parent.get("properties", {}):
            if token not in parent.get("required", []):
                return False
        elif not (token.isdigit() and int(token) < parent.get("minItems", 0)):
            return False
    return True


def validator_at(root: dict[str, Any], schema_pointer: str) -> Draft202012Validator:
    """A validator for the subschema at `schema_pointer`, resolving `$ref`s against `root`."""
    registry: Registry[Any] = Registry().with_resource(
        OUTPUT_URI, DRAFT202012.create_resource(root)
    )
    return Draft202012Validator(
        {"$ref": f"{OUTPUT_URI}#{schema_pointer}"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def assertions(data: dict[str, Any]) -> list[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    """(location, assertion, all assertions of its test) for every assertion in the file."""
    found = []
    for i, test in enumerate(data.get("tests") or []):
        expect = test.get("expect") or []
        for j, assertion in enumerate(expect):
            found.append((f"/tests/{i}/expect/{j} ({test.get('name')})", assertion, expect))
    return found


def test_specs_dir_has_spec_files() -> None:
    assert SPEC_FILES, f"no spec files in {SPECS_DIR}"


@spec_files
def test_file_is_a_valid_spec_document(path: Path) -> None:
    try:
        parse_document(load(path))
    except InvalidDocument as exc:
        pytest.fail(
            f"{path.name} is not a valid spec document:\n"
            + "\n".join(f"  {issue.pointer or '/'}: {issue.message}" for issue in exc.issues)
        )


@spec_files
def test_file_name_is_the_spec_name(path: Path) -> None:
    name = load(path).get("name")
    assert name == path.stem, f"{path.name} holds the spec {name!r}; name the file {name}.yaml"


@spec_files
def test_spec_is_complete(path: Path) -> None:
    data = load(path)
    problems = []
    for field, minimum in (("rules", MIN_RULES), ("examples", MIN_EXAMPLES), ("tests", MIN_TESTS)):
        count = len(data.get(field) or [])
        if count < minimum:
            problems.append(f"{field}: {count}, at least {minimum} wanted")
    for field in ("title", "description", "model"):
        if not data.get(field):
            problems.append(f"{field} is missing")
    for i, test in enumerate(data.get("tests") or []):
        if not test.get("expect"):
            problems.append(f"/tests/{i} ({test.get('name')}) asserts nothing")
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


@spec_files
def test_examples_follow_their_schemas_with_formats(path: Path) -> None:
    """`parse_document` checks types; this also checks formats such as date and email."""
    data = load(path)
    problems = []
    for i, example in enumerate(data.get("examples") or []):
        for part, schema_field in (("input", "input_schema"), ("output", "output_schema")):
            validator = validator_at(data[schema_field], "")
            for error in validator.iter_errors(example[part]):
                where = pointer("examples", i, part, *error.absolute_path)
                problems.append(f"{where}: {error.message}")
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


@spec_files
def test_equals_values_follow_the_output_schema(path: Path) -> None:
    data = load(path)
    root = data["output_schema"]
    problems = []
    for location, assertion, _ in assertions(data):
        if "equals" not in assertion:
            continue
        target = assertion.get("path", "")
        try:
            _, schema_pointer = schema_at(root, target)
        except (LookupError, KeyError, IndexError, ValueError) as exc:
            problems.append(f"{location}: path {target!r} is not in the output schema: {exc}")
            continue
        for error in validator_at(root, schema_pointer).iter_errors(assertion["equals"]):
            problems.append(
                f"{location}: equals {assertion['equals']!r} at {target}: {error.message}"
            )
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


@spec_files
def test_assertions_survive_the_document_model(path: Path) -> None:
    """What the file says is what gets stored: no assertion field is dropped on the way."""
    data = load(path)
    stored = parse_document(data).canonical().get("tests", [])
    problems = []
    for i, test in enumerate(data.get("tests") or []):
        for j, assertion in enumerate(test.get("expect") or []):
            kept = stored[i]["expect"][j]
            lost = sorted(key for key in assertion if key not in kept and key != "path")
            if lost:
                problems.append(f"/tests/{i}/expect/{j} ({test['name']}): {lost} not stored")
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


@spec_files
def test_assertions_pass_on_the_offline_model(path: Path) -> None:
    data = load(path)
    root = data["output_schema"]
    problems = []
    for location, assertion, expect in assertions(data):
        target = assertion.get("path", "")
        pinned = [a.get("path", "") for a in expect if "equals" in a]
        if set(assertion) - OFFLINE_SAFE_KEYS and target not in pinned:
            extra = sorted(set(assertion) - OFFLINE_SAFE_KEYS)
            problems.append(f"{location}: {extra} on {target!r} needs an equals on the same path")
        if "exists" in assertion:
            under_pin = any(p == target or p.startswith(target + "/") for p in pinned)
            if assertion["exists"] is not True:
                problems.append(f"{location}: exists {assertion['exists']!r} is not deterministic")
            elif not under_pin and not always_present(root, target):
                problems.append(f"{location}: {target!r} is optional, so exists may fail")
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


@spec_files
def test_test_inputs_differ_from_example_inputs(path: Path) -> None:
    """A test that replays an example proves nothing: the model is shown that very answer."""
    data = load(path)
    example_inputs = [example["input"] for example in data.get("examples") or []]
    copied = [t["name"] for t in data.get("tests") or [] if t["input"] in example_inputs]
    assert not copied, f"{path.name}: tests with an example's input: {copied}"

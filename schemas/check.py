#!/usr/bin/env python3
"""Check adoport's JSON Schemas and the mappings that must satisfy them.

1. Every schema under schemas/ is valid against the draft 2020-12 meta-schema, and every
   property it declares has a description.
2. Each mapping file (Port's shipped files and our own default mapping) validates against
   schemas/mapping.schema.json, and each resource's selector against
   schemas/selectors/<kind>.schema.json.
3. For our default mapping, every blueprint, property and relation it maps exists in
   mappings/blueprints/*.json, and every relation target is a shipped blueprint.

Usage: python3 schemas/check.py [MAPPING.yaml ...]   (needs: pip install jsonschema pyyaml)
Exit status 0 when everything passes, 1 otherwise.
"""

import json
import re
import sys
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"
REFERENCE = ROOT / "tests" / "fixtures" / "upstream"
PORT_FILES = [
    REFERENCE / "ocean-ado-defaults" / "port-app-config.yaml",
    REFERENCE / "ocean-ado-examples" / "example-mappings.yaml",
]
OUR_MAPPING = ROOT / "mappings" / "port-app-config.yaml"
OUR_BLUEPRINTS = ROOT / "mappings" / "blueprints"

failures = []

# Settings documents the settings schema must refuse: secrets have no place, guards have bounds.
SETTINGS_MUST_FAIL = [
    {"personalAccessToken": "x"},
    {"port": {"clientSecret": "x"}},
    {"webhook": {"secret": "x"}},
    {"deletion": {"threshold": 1.5}},
    {"deletion": {"maxDeletes": -1}},
    {"port": {"region": "asia"}},
    {"catalog": "postgres://x"},
    {"resync": {"interval": "soon"}},
    {"jq": {"envAllowList": ["NOT VALID"]}},
]


def fail(where, message):
    failures.append(f"{where}: {message}")


def load_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def undocumented(schema, path="#"):
    """Yield the JSON pointers of declared properties that carry no description."""
    if not isinstance(schema, dict):
        return
    for name, sub in schema.get("properties", {}).items():
        if isinstance(sub, dict) and "description" not in sub:
            yield f"{path}/properties/{name}"
        yield from undocumented(sub, f"{path}/properties/{name}")
    for keyword in ("$defs",):
        for name, sub in schema.get(keyword, {}).items():
            yield from undocumented(sub, f"{path}/{keyword}/{name}")
    for keyword in ("items", "additionalProperties", "then", "else", "if", "not"):
        yield from undocumented(schema.get(keyword), f"{path}/{keyword}")
    for keyword in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for index, sub in enumerate(schema.get(keyword, [])):
            yield from undocumented(sub, f"{path}/{keyword}/{index}")


def check_schemas():
    """Meta-validate every schema file; return (mapping validator, {kind: validator}, settings)."""
    files = [SCHEMAS / "mapping.schema.json", SCHEMAS / "settings.schema.json"]
    files += sorted((SCHEMAS / "selectors").glob("*.schema.json"))
    loaded = {}
    for path in files:
        schema = load_json(path)
        for error in Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(schema):
            fail(path.relative_to(ROOT), f"not a valid 2020-12 schema: {error.message}")
        for pointer in undocumented(schema):
            fail(path.relative_to(ROOT), f"{pointer} has no description")
        if schema.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
            fail(path.relative_to(ROOT), "$schema is not draft 2020-12")
        for index, example in enumerate(schema.get("examples", [])):
            for error in Draft202012Validator(schema).iter_errors(example):
                fail(path.relative_to(ROOT), f"examples/{index}/{where(error)}: {error.message}")
        loaded[path] = schema
    mapping = loaded[SCHEMAS / "mapping.schema.json"]
    kinds = mapping["$defs"]["resource"]["properties"]["kind"]["enum"]
    selectors = {}
    for path, schema in loaded.items():
        if path.parent.name == "selectors":
            kind = path.name.removesuffix(".schema.json")
            if kind not in kinds:
                fail(path.relative_to(ROOT), f"kind {kind!r} is not in the mapping schema's kind enum")
            selectors[kind] = Draft202012Validator(schema)
    for kind in kinds:
        if kind not in selectors:
            fail("schemas/selectors", f"no selector schema for kind {kind!r}")
    settings = Draft202012Validator(loaded[SCHEMAS / "settings.schema.json"])
    for bad in SETTINGS_MUST_FAIL:
        if settings.is_valid(bad):
            fail("schemas/settings.schema.json", f"accepts {bad}")
    return Draft202012Validator(mapping), selectors


def where(error):
    return "/".join(str(part) for part in error.absolute_path) or "(top)"


def check_mapping(path, mapping_validator, selectors):
    """Validate one mapping file; return its parsed document (or None)."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as error:
        fail(path, f"cannot read: {error}")
        return None
    for error in mapping_validator.iter_errors(document):
        fail(path, f"{where(error)}: {error.message}")
    for index, resource in enumerate((document or {}).get("resources") or []):
        kind = resource.get("kind") if isinstance(resource, dict) else None
        validator = selectors.get(kind)
        if validator is None:
            continue
        for error in validator.iter_errors(resource.get("selector")):
            fail(path, f"resources/{index} ({kind}) selector/{where(error)}: {error.message}")
    return document


BLUEPRINT_LITERAL = re.compile(r'^"([^"]+)"$')
PORT_TYPES = {"string", "number", "boolean", "object", "array"}


def check_blueprints(document):
    """Check our default mapping against the blueprints shipped beside it."""
    blueprints = {}
    for path in sorted(OUR_BLUEPRINTS.glob("*.json")):
        blueprint = load_json(path)
        ident = blueprint.get("identifier")
        if path.stem != ident:
            fail(path.relative_to(ROOT), f"file name does not match identifier {ident!r}")
        for key in ("identifier", "title", "icon", "schema", "relations"):
            if key not in blueprint:
                fail(path.relative_to(ROOT), f"missing {key}")
        props = blueprint.get("schema", {}).get("properties", {})
        for name, prop in props.items():
            if prop.get("type") not in PORT_TYPES:
                fail(path.relative_to(ROOT), f"property {name} has type {prop.get('type')!r}")
        for name in blueprint.get("schema", {}).get("required", []):
            if name not in props:
                fail(path.relative_to(ROOT), f"required property {name} is not declared")
        blueprints[ident] = blueprint
    for ident, blueprint in blueprints.items():
        for name, relation in blueprint.get("relations", {}).items():
            if relation.get("target") not in blueprints:
                fail(f"blueprint {ident}", f"relation {name} targets unknown {relation.get('target')!r}")
            if not isinstance(relation.get("many"), bool) or not isinstance(relation.get("required"), bool):
                fail(f"blueprint {ident}", f"relation {name} needs boolean many and required")
    used = set()
    for index, resource in enumerate(document.get("resources") or []):
        mappings = resource["port"]["entity"]["mappings"]
        literal = BLUEPRINT_LITERAL.match(mappings["blueprint"].strip("'"))
        if not literal or literal.group(1) not in blueprints:
            fail(OUR_MAPPING.name, f"resources/{index}: blueprint {mappings['blueprint']} has no file in mappings/blueprints")
            continue
        blueprint = blueprints[literal.group(1)]
        used.add(blueprint["identifier"])
        for name in mappings.get("properties", {}):
            if name not in blueprint["schema"]["properties"]:
                fail(OUR_MAPPING.name, f"resources/{index}: property {name} not in blueprint {blueprint['identifier']}")
        for name in mappings.get("relations", {}):
            if name not in blueprint["relations"]:
                fail(OUR_MAPPING.name, f"resources/{index}: relation {name} not in blueprint {blueprint['identifier']}")
    for ident in blueprints:
        if ident not in used:
            fail(f"blueprint {ident}", "no resource of the default mapping writes it")


def main(argv):
    mapping_validator, selectors = check_schemas()
    extra = [Path(arg) for arg in argv[1:]]
    for path in PORT_FILES + extra:
        check_mapping(path, mapping_validator, selectors)
    if OUR_MAPPING.exists():
        first_line = OUR_MAPPING.read_text(encoding="utf-8").splitlines()[0]
        if first_line != "# yaml-language-server: $schema=../schemas/mapping.schema.json":
            fail(OUR_MAPPING.name, "first line is not the yaml-language-server schema modeline")
        document = check_mapping(OUR_MAPPING, mapping_validator, selectors)
        if document is not None:
            check_blueprints(document)
    for line in failures:
        print(line)
    checked = len(PORT_FILES) + len(extra) + OUR_MAPPING.exists()
    print(f"{len(failures)} problem(s); {len(selectors)} selector schemas, {checked} mapping file(s) checked")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

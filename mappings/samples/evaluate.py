#!/usr/bin/env python3
"""Run the default mapping over sample raw items with real jq, the way Port's processor does.

items.json holds a few raw items per kind, shaped as the ADO API returns them plus the `__`
fields adoport adds (enough for every relation of the default mapping to have its target).
entities.json is what Port's integration produces from them with libjq 1.8 (`jq` 1.12.0 on
PyPI, the library Port's integration uses): the expected output for adoport's mapping engine.

Port's rules, as applied here: single-quoted string delimiters become double quotes; the
selector must yield a boolean; each mapping leaf keeps its first output, and an error or no
output gives null. Every evaluation problem is printed, and so is every identifier Port would
refuse, property value of the wrong type for its blueprint, and relation value that names no
entity of the target blueprint.

Usage: pip install jq==1.12.0 pyyaml
       python3 mappings/samples/evaluate.py           # compare with entities.json
       python3 mappings/samples/evaluate.py --write   # regenerate entities.json
Exit status 0 when clean and equal, 1 otherwise.
"""

import json
import re
import sys
from pathlib import Path

import jq
import yaml

HERE = Path(__file__).resolve().parent
MAPPINGS = HERE.parent
# Port's single-quote rewrite (port_ocean JQEntityProcessor._compile).
QUOTES = re.compile(r"(^|\s)'(?!\s|\")|(?<!\s|\")'(\s|$)")
# Port's entity identifier pattern (\p{L} approximated by \w minus digits and underscore).
IDENTIFIER = re.compile(r"^(?!\.{1,2}$)(?:[^\W\d_]|[0-9@_.+:\\/=-])+$")
TYPES = {"string": str, "number": (int, float), "boolean": bool, "array": list, "object": dict}

problems = []


def run(expression, item, where):
    try:
        outputs = jq.compile(QUOTES.sub(r'\1"\2', expression)).input_value(item).all()
    except ValueError as error:
        problems.append(f"{where}: jq error: {str(error).splitlines()[0]}")
        return None
    if not outputs:
        problems.append(f"{where}: no output")
        return None
    return outputs[0]


def evaluate(tree, item, where):
    if isinstance(tree, dict):
        return {key: evaluate(value, item, f"{where}.{key}") for key, value in tree.items()}
    return run(tree, item, where)


def main(argv):
    config = yaml.safe_load((MAPPINGS / "port-app-config.yaml").read_text(encoding="utf-8"))
    items = json.loads((HERE / "items.json").read_text(encoding="utf-8"))
    blueprints = {}
    for path in sorted((MAPPINGS / "blueprints").glob("*.json")):
        blueprint = json.loads(path.read_text(encoding="utf-8"))
        blueprints[blueprint["identifier"]] = blueprint

    entities = []
    for index, resource in enumerate(config["resources"]):
        kind = resource["kind"]
        mappings = resource["port"]["entity"]["mappings"]
        if not items.get(kind):
            problems.append(f"resources/{index} ({kind}): no sample items")
        for number, item in enumerate(items.get(kind, [])):
            where = f"{kind}[{number}]"
            passed = run(resource["selector"]["query"], item, f"{where} selector")
            if not isinstance(passed, bool):
                problems.append(f"{where} selector: not a boolean: {passed!r}")
            if passed is not True:
                continue
            entity = evaluate(mappings, item, where)
            if not entity.get("identifier") or not entity.get("blueprint"):
                problems.append(f"{where}: dropped (identifier or blueprint empty)")
                continue
            entities.append(entity)

    owned = {}
    for entity in entities:
        owned.setdefault(entity["blueprint"], set()).add(entity["identifier"])
    for entity in entities:
        name = f"{entity['blueprint']}:{entity['identifier']}"
        if not isinstance(entity["identifier"], str) or not IDENTIFIER.match(entity["identifier"]):
            problems.append(f"{name}: identifier Port would refuse")
        blueprint = blueprints[entity["blueprint"]]
        for key, value in entity.get("properties", {}).items():
            kind = blueprint["schema"]["properties"][key]["type"]
            wrong = not isinstance(value, TYPES[kind]) or (kind == "number" and isinstance(value, bool))
            if value is not None and wrong:
                problems.append(f"{name}: property {key} = {value!r} is not a {kind}")
        for key, value in entity.get("relations", {}).items():
            relation = blueprint["relations"][key]
            if value is None:
                continue
            if relation["many"] != isinstance(value, list):
                problems.append(f"{name}: relation {key} = {value!r} (many: {relation['many']})")
                continue
            for target in value if relation["many"] else [value]:
                if target not in owned.get(relation["target"], set()):
                    problems.append(f"{name}: relation {key} -> {relation['target']}:{target} matches no entity")

    rendered = json.dumps(entities, indent=2, ensure_ascii=False) + "\n"
    expected_path = HERE / "entities.json"
    if "--write" in argv:
        expected_path.write_text(rendered, encoding="utf-8")
    elif not expected_path.exists() or expected_path.read_text(encoding="utf-8") != rendered:
        problems.append("entities.json differs from what the mapping produces (rerun with --write)")
    for line in problems:
        print(line)
    print(f"{len(entities)} entities, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""The official OpenLineage specification files, vendored as test data in
tests/lineage/openlineage_spec/ (Apache-2.0, see its README): the conformance tests always
run, and fail rather than skip if the files are missing."""

import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

SPEC_DIR = Path(__file__).resolve().parent / "openlineage_spec"
CORE_ID = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
_BASES = ("InputDatasetFacet", "OutputDatasetFacet", "DatasetFacet", "JobFacet", "RunFacet")


@cache
def registry() -> Registry:
    resources = []
    for path in [SPEC_DIR / "OpenLineage.json", *sorted((SPEC_DIR / "facets").glob("*.json"))]:
        contents = json.loads(path.read_text())
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources)


# jsonschema checks "date-time" only with an optional package; check it here on our own,
# independently of lineage.validation: an ISO date-time with an offset.
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value) -> bool:
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


def official_validator(ref: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": ref}, registry=registry(), format_checker=FORMATS)


def official_errors(event: dict, kind: str = "RunEvent") -> list[str]:
    validator = official_validator(f"{CORE_ID}#/$defs/{kind}")
    return [e.message for e in validator.iter_errors(event)]


def facet_base(facet_file: str, facet_name: str, instance: dict | None = None) -> str:
    """Where a facet goes in an event (run, job, dataset, input or output facets), read from
    the official facet schema: the core facet definitions its definition builds on."""
    schema = json.loads((SPEC_DIR / "facets" / f"{facet_file}.json").read_text())
    prop = schema["properties"].get(facet_name) or next(iter(schema["properties"].values()))
    todo = re.findall(r"\"#/\$defs/(\w+)\"", json.dumps(prop))
    named = (instance or {}).get("_schemaURL", "").rpartition("#/$defs/")[2]
    if named in schema["$defs"]:
        todo = [named]
    if len(todo) == 1 and "allOf" in schema["$defs"][todo[0]]:
        direct = json.dumps(schema["$defs"][todo[0]]["allOf"][0])
        for base in _BASES:
            if direct.endswith(f'/$defs/{base}"}}'):
                return base
    seen, bases = set(), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        text = json.dumps(schema["$defs"][name])
        bases.update(re.findall(r"OpenLineage\.json#/\$defs/(\w+Facet)\"", text))
        todo += [ref for ref in re.findall(r"\"#/\$defs/(\w+)\"", text) if ref.endswith("Facet")]
    bases &= set(_BASES)
    if len(bases) > 1 and instance is not None:
        url = instance.get("_schemaURL", "")
        bases = {b for b in bases if ("Input" in b) == ("Input" in url)} or bases
    for base in _BASES:
        if base in bases:
            return base
    raise AssertionError(f"no facet base in {facet_file}")


def sample_instances():
    """(test id, facet file name, instance) for every sample under tests/<Facet>/. Missing
    spec data is an error at collection, never an empty (silently skipped) parameter list."""
    if not (SPEC_DIR / "OpenLineage.json").is_file():
        raise FileNotFoundError(f"the vendored OpenLineage spec is missing: {SPEC_DIR}")
    found = []
    for path in sorted((SPEC_DIR / "tests").glob("*/*.json")):
        found.append(
            (f"{path.parent.name}/{path.name}", path.parent.name, json.loads(path.read_text()))
        )
    return found

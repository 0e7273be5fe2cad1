"""Strict validation of custom resources against their CRDs' structural schemas, without a
cluster (what ``kubectl apply --validate=strict`` would reject).

A CRD's ``openAPIV3Schema`` is turned into a JSON Schema that ``jsonschema`` can enforce:
- ``x-kubernetes-int-or-string`` becomes "integer or string", ``nullable`` also admits null;
- an object that lists ``properties`` is closed (``additionalProperties: false``) unless it
  carries ``x-kubernetes-preserve-unknown-fields``: a misspelled field is an error, as the
  API server's strict field validation makes it;
- the root admits ``apiVersion``, ``kind`` and ``metadata`` (Istio's schemas omit them).
CEL rules (``x-kubernetes-validations``) are not evaluated.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import yaml

# The CRD files are large (about 1 MB): libyaml's loader reads them in a fraction of a second.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "namespace": {"type": "string", "minLength": 1},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}


def _strict(schema: dict) -> dict:
    schema = dict(schema)
    if schema.pop("x-kubernetes-int-or-string", False):
        schema.pop("type", None)
        schema["anyOf"] = [*schema.get("anyOf", []), {"type": "integer"}, {"type": "string"}]
    if schema.pop("nullable", False) and "type" in schema:
        schema["type"] = [schema["type"], "null"]
    preserve = schema.pop("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in schema:
        schema["properties"] = {k: _strict(v) for k, v in schema["properties"].items()}
        if not preserve and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
    if isinstance(schema.get("additionalProperties"), dict):
        schema["additionalProperties"] = _strict(schema["additionalProperties"])
    if isinstance(schema.get("items"), dict):
        schema["items"] = _strict(schema["items"])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in schema:
            schema[key] = [_strict(s) for s in schema[key]]
    if isinstance(schema.get("not"), dict):
        schema["not"] = _strict(schema["not"])
    return schema


def strict_schema(open_api_v3: dict) -> dict:
    """The JSON Schema a CRD version's ``openAPIV3Schema`` means under strict validation."""
    root = copy.deepcopy(open_api_v3)
    root.setdefault("properties", {})
    root["properties"].setdefault("apiVersion", {"type": "string"})
    root["properties"].setdefault("kind", {"type": "string"})
    root["properties"]["metadata"] = _METADATA
    root.setdefault("type", "object")
    return _strict(root)


class CrdValidator:
    """Validators for every (apiVersion, kind) served by the CRD files in a folder."""

    def __init__(self, crd_dir: Path):
        self.validators: dict[tuple[str, str], jsonschema.Draft7Validator] = {}
        for path in sorted(crd_dir.glob("*.yaml")):
            for crd in yaml.load_all(path.read_text(), Loader=_LOADER):
                if not crd or crd.get("kind") != "CustomResourceDefinition":
                    continue
                group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
                for version in crd["spec"]["versions"]:
                    if not version.get("served", True):
                        continue
                    schema = strict_schema(version["schema"]["openAPIV3Schema"])
                    self.validators[(f"{group}/{version['name']}", kind)] = (
                        jsonschema.Draft7Validator(schema)
                    )

    def knows(self, doc: dict) -> bool:
        return (doc["apiVersion"], doc["kind"]) in self.validators

    def errors(self, doc: dict) -> Iterator[str]:
        key = (doc["apiVersion"], doc["kind"])
        if key not in self.validators:
            yield f"no CRD serves {key[0]} {key[1]}"
            return
        for error in self.validators[key].iter_errors(doc):
            path = ".".join(str(p) for p in error.absolute_path) or "<root>"
            yield f"{path}: {error.message}"

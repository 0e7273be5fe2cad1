"""checkov (its own venv, `make test` creates it) on the rendered deploy/: no failed check, and
every skip is an annotation on the object it concerns, with its reason, and still needed."""

import json
import re
import subprocess

import pytest
import yaml

from tests.deploy.manifests import REPO

CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
SKIP = re.compile(r"checkov\.io/skip\d+")


def checkov(*files) -> dict[str, dict]:
    if not CHECKOV.exists():
        pytest.fail("checkov is missing: make .venv-checkov/.installed (part of make test)")
    args = [str(CHECKOV), "--framework", "kubernetes", "--skip-download", "-o", "json"]
    for file in files:
        args += ["-f", str(file)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert result.returncode in (0, 1), result.stderr[-3000:]
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    by_file: dict[str, dict] = {}
    for part in reports:
        for outcome in ("passed_checks", "failed_checks", "skipped_checks"):
            for check in part["results"][outcome]:
                name = check["file_path"].rsplit("/", 1)[-1]
                by_file.setdefault(name, {}).setdefault(outcome, []).append(check)
    return by_file


def resource_key(doc: dict) -> str:
    meta = doc["metadata"]
    return ".".join(p for p in (doc["kind"], meta.get("namespace"), meta["name"]) if p)


def test_rendered_deploy_passes_checkov(rendered, tmp_path):
    deploy = tmp_path / "deploy.yaml"
    deploy.write_text(rendered)
    # The same objects with the pods' hardening taken away: checkov must notice.
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    for doc in docs:
        if doc["kind"] in {"Deployment", "StatefulSet", "Job"}:
            for container in doc["spec"]["template"]["spec"]["containers"]:
                container.pop("securityContext")
    weakened = tmp_path / "weakened.yaml"
    weakened.write_text(yaml.safe_dump_all(docs))

    results = checkov(deploy, weakened)
    failed = results["weakened.yaml"].get("failed_checks", [])
    assert {"CKV_K8S_20", "CKV_K8S_22"} <= {c["check_id"] for c in failed}

    ours = results["deploy.yaml"]
    assert [(c["check_id"], c["resource"]) for c in ours.get("failed_checks", [])] == []
    assert len(ours["passed_checks"]) > 500

    objects = {resource_key(d): d for d in yaml.safe_load_all(rendered) if d}
    annotated = {}
    for key, doc in objects.items():
        for name, value in (doc["metadata"].get("annotations") or {}).items():
            if SKIP.fullmatch(name):
                check, _, reason = value.partition("=")
                assert len(reason.split()) >= 5, (key, value)  # a reason, not a shrug
                annotated[(check, key)] = reason
    skipped = {(c["check_id"], c["resource"]) for c in ours.get("skipped_checks", [])}
    assert skipped == set(annotated)  # every skip is annotated, and every annotation skips

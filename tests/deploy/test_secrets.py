"""Secrets of an installation: deploy/ ships none, deploy/create-secrets.sh makes strong random
ones without touching existing ones (run against a stand-in kubectl that keeps the cluster's
Secrets in files), and the demo overlay keeps its public values out of production mode."""

import subprocess

import pytest
import yaml

from tests.deploy.fake_kube import create_secrets, fake_cluster, stored
from tests.deploy.manifests import DEPLOY, by_kind, kubectl, one, pod_templates

NS = "sentiment"
HOSTS = {"sentiment.local", "prometheus.sentiment.local", "grafana.sentiment.local"}
RANDOM = {
    (NS, "sentiment-django"): ("secret-key", 50),
    (NS, "sentiment-db"): ("password", 32),
    (NS, "sentiment-admin"): ("password", 24),
}


def gateway_namespace() -> str:
    return yaml.safe_load((DEPLOY / "gateway" / "ingress-gateway.yaml").read_text())["spec"][
        "namespace"
    ]


@pytest.fixture
def cluster(tmp_path):
    return fake_cluster(tmp_path)


def test_creates_every_secret_with_strong_random_values(cluster, tmp_path):
    result = create_secrets(cluster)
    assert result.returncode == 0, result.stderr
    secrets = stored(cluster)
    assert set(secrets) == {
        (NS, "sentiment-django"),
        (NS, "sentiment-db"),
        (NS, "sentiment-admin"),
        (NS, "github-token"),
        (gateway_namespace(), "sentiment-tls"),
    }
    for (namespace, name), (key, nbytes) in RANDOM.items():
        value = secrets[namespace, name]["data"][key]
        # token_urlsafe(n): 4/3 n characters of the URL-safe alphabet.
        assert len(value) >= nbytes * 4 // 3, name
        assert value.replace("-", "").replace("_", "").isalnum(), name
        assert value not in result.stdout + result.stderr, name
    admin = secrets[NS, "sentiment-admin"]["data"]
    assert (admin["username"], admin["email"]) == ("admin", "admin@sentiment.local")
    assert secrets[NS, "github-token"]["data"] == {"token": ""}
    values = [secrets[k]["data"][key] for k, (key, _) in RANDOM.items()]
    assert len(set(values)) == len(values)

    again = fake_cluster(tmp_path / "other")
    assert create_secrets(again).returncode == 0
    for k, (key, _) in RANDOM.items():
        assert stored(again)[k]["data"][key] != secrets[k]["data"][key], k


def test_keeps_existing_secrets_and_fills_in_the_missing(cluster):
    assert create_secrets(cluster).returncode == 0
    first = stored(cluster)
    db = cluster / "secrets" / NS / "sentiment-db.json"
    db.write_text('{"type": "generic", "data": {"password": "chosen-by-the-operator"}}')
    (cluster / "secrets" / NS / "sentiment-django.json").unlink()

    result = create_secrets(cluster)
    assert result.returncode == 0, result.stderr
    second = stored(cluster)
    assert second[NS, "sentiment-db"]["data"] == {"password": "chosen-by-the-operator"}
    assert second[NS, "sentiment-admin"] == first[NS, "sentiment-admin"]
    assert (gateway_namespace(), "sentiment-tls") in second
    assert second[NS, "sentiment-django"] != first[NS, "sentiment-django"]  # made anew
    assert "sentiment/sentiment-db exists: kept" in result.stdout
    assert "sentiment/sentiment-django created" in result.stdout
    creates = [c for c in cluster.joinpath("calls.jsonl").read_text().splitlines() if "create" in c]
    assert len(creates) == 5 + 1  # the first run's five, then only the deleted one


def test_admin_name_and_token_come_from_the_environment(cluster):
    env = {"ADMIN_USERNAME": "ops", "ADMIN_EMAIL": "ops@example.org", "GITHUB_TOKEN": "t0ken"}
    assert create_secrets(cluster, env=env).returncode == 0
    secrets = stored(cluster)
    admin = secrets[NS, "sentiment-admin"]["data"]
    assert (admin["username"], admin["email"]) == ("ops", "ops@example.org")
    assert secrets[NS, "github-token"]["data"] == {"token": "t0ken"}


def test_self_signed_certificate_names_the_gateway_hosts(cluster, tmp_path):
    assert create_secrets(cluster).returncode == 0
    tls = stored(cluster)[gateway_namespace(), "sentiment-tls"]
    assert tls["type"] == "tls"
    cert = tmp_path / "tls.crt"
    cert.write_text(tls["data"]["tls.crt"])
    text = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = {
        part.strip().removeprefix("DNS:")
        for part in text.split("Alternative Name:")[1].splitlines()[1].split(",")
    }
    assert names == HOSTS
    key = tmp_path / "tls.key"
    key.write_text(tls["data"]["tls.key"])
    modulus = [
        subprocess.run(
            ["openssl", kind, "-in", str(path), "-noout", "-modulus"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for kind, path in (("x509", cert), ("rsa", key))
    ]
    assert modulus[0] == modulus[1]
    # The Gateway's HTTPS server reads exactly this Secret.
    rendered = subprocess.run(
        [kubectl(), "kustomize", str(DEPLOY)], capture_output=True, text=True, check=True
    ).stdout
    gateway = one([d for d in yaml.safe_load_all(rendered) if d], "Gateway", "sentiment-gateway")
    (https,) = [s for s in gateway["spec"]["servers"] if s["port"]["protocol"] == "HTTPS"]
    assert https["tls"]["credentialName"] == "sentiment-tls"


def test_no_tls_leaves_the_certificate_to_the_operator(cluster):
    assert create_secrets(cluster, "--no-tls").returncode == 0
    assert (gateway_namespace(), "sentiment-tls") not in stored(cluster)
    assert create_secrets(cluster, "--bogus").returncode == 2


# --- what deploy/ and deploy/demo/ render ------------------------------------------------------


def render(path) -> list[dict]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def test_the_installation_ships_no_secret(docs):
    assert by_kind(docs, "Secret") == []


def test_demo_keeps_its_public_values_out_of_production_mode(docs):
    demo = render(DEPLOY / "demo")
    secrets = by_kind(demo, "Secret")
    assert {s["metadata"]["name"] for s in secrets} == {
        "sentiment-django",
        "sentiment-db",
        "sentiment-admin",
        "github-token",
    }
    for secret in secrets:
        assert secret["metadata"]["labels"]["sentiment.local/demo"] == "true"
        for value in secret["stringData"].values():
            assert "demo" in value or value in {"admin", "admin@sentiment.local"}
    assert one(demo, "ConfigMap", "dummy-config")["data"]["APP_MODE"] == "dev"
    config = one(demo, "ConfigMap", "sentiment-config")["data"]
    assert config["TLS_ENABLED"] == "false"
    (server,) = one(demo, "Gateway", "sentiment-gateway")["spec"]["servers"]
    assert server["port"] == {"number": 80, "name": "http", "protocol": "HTTP"}
    assert "tls" not in server

    # Every other object is the installation's own, unchanged.
    def rest(objects):
        return [
            o
            for o in objects
            if o["kind"] not in {"Secret", "Gateway"}
            and o["metadata"]["name"] not in {"dummy-config", "sentiment-config"}
        ]

    assert rest(demo) == rest(docs)
    for name, template in pod_templates(demo):
        for container in template["spec"]["containers"]:
            refs = [e["configMapRef"]["name"] for e in container.get("envFrom", [])]
            if name not in {"sentiment-postgres", "sentiment-redis"}:
                assert "dummy-config" in refs, name

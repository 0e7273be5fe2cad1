"""What `kubectl apply -k deploy/` installs: the objects, their namespaces, how the pods are
hardened and probed, and that every reference between objects resolves."""

import copy
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from core.version import APP_VERSION
from tests.deploy.fake_kube import as_secret_objects, create_secrets, fake_cluster
from tests.deploy.manifests import (
    DEPLOY,
    REPO,
    by_kind,
    containers,
    one,
    pod_templates,
)

NS = "sentiment"
PRINCIPAL = re.compile(r"cluster\.local/ns/([^/]+)/sa/([^/]+)")

EXPECTED = {
    ("Namespace", "sentiment", None),
    ("Deployment", "sentiment-app-v1", NS),
    ("Deployment", "sentiment-app-v2", NS),
    ("Deployment", "sentiment-model", NS),
    ("Deployment", "sentiment-model-v2", NS),
    ("Deployment", "sentiment-redis", NS),
    ("Deployment", "sentiment-worker", NS),
    ("Deployment", "sentiment-beat", NS),
    ("StatefulSet", "sentiment-postgres", NS),
    ("Job", "sentiment-migrate", NS),
    ("Service", "sentiment-app-service", NS),
    ("Service", "sentiment-model-service", NS),
    ("Service", "sentiment-postgres", NS),
    ("Service", "sentiment-redis", NS),
    ("ConfigMap", "dummy-config", NS),
    ("HorizontalPodAutoscaler", "sentiment-app-v1", NS),
    ("HorizontalPodAutoscaler", "sentiment-model", NS),
    ("PodDisruptionBudget", "sentiment-app-v1", NS),
    ("PodDisruptionBudget", "sentiment-model", NS),
    ("NetworkPolicy", "default-deny", NS),
    ("Gateway", "sentiment-gateway", NS),
    ("VirtualService", "sentiment-vs", NS),
    ("VirtualService", "sentiment-model-vs", NS),
    ("VirtualService", "sentiment-prometheus-vs", NS),
    ("VirtualService", "sentiment-grafana-vs", NS),
    ("DestinationRule", "sentiment-app-destination", NS),
    ("DestinationRule", "sentiment-model-destination", NS),
    ("ConfigMap", "sentiment-model-config", NS),
    ("ConfigMap", "sentiment-model-v2-config", NS),
    ("EnvoyFilter", "sentiment-rate-limit", "istio-system"),
    ("PeerAuthentication", "sentiment-mtls", NS),
    ("AuthorizationPolicy", "sentiment-model-callers", NS),
}


@pytest.fixture(scope="module")
def installed(docs, tmp_path_factory) -> list[dict]:
    """The rendered objects plus the Secrets deploy/create-secrets.sh makes: what the
    cluster holds after the documented install."""
    state = fake_cluster(tmp_path_factory.mktemp("cluster"))
    result = create_secrets(state)
    assert result.returncode == 0, result.stderr
    return [*docs, *as_secret_objects(state)]


def key(doc: dict) -> tuple[str, str, str | None]:
    return doc["kind"], doc["metadata"]["name"], doc["metadata"].get("namespace")


def test_renders_every_named_resource(docs):
    assert {key(d) for d in docs} >= EXPECTED


def test_rendered_objects_are_unique(docs):
    keys = [key(d) for d in docs]
    assert len(keys) == len(set(keys))


def test_every_namespaced_object_names_its_namespace(docs):
    missing = [key(d) for d in docs if d["kind"] != "Namespace" and not key(d)[2]]
    assert missing == []
    assert {key(d)[2] for d in docs} <= {None, NS, "istio-system", "monitoring"}


def test_no_kustomization_overrides_namespaces():
    """A kustomize-level `namespace:` would move the EnvoyFilter out of istio-system."""
    for path in DEPLOY.rglob("kustomization.yaml"):
        if "node_modules" in path.parts:
            continue
        assert "namespace" not in yaml.safe_load(path.read_text()), path


def test_namespace_gets_istio_sidecars(docs):
    labels = one(docs, "Namespace", NS)["metadata"]["labels"]
    assert labels["istio-injection"] == "enabled"


def test_config_map_consumed_by_every_application_pod(docs):
    config = one(docs, "ConfigMap", "dummy-config")["data"]
    assert config == {"LOG_LEVEL": "info", "APP_MODE": "prod"}
    for name, template in pod_templates(docs):
        if name in {"sentiment-postgres", "sentiment-redis"}:
            continue
        for container in template["spec"]["containers"]:
            refs = [e["configMapRef"]["name"] for e in container.get("envFrom", [])]
            assert "dummy-config" in refs, (name, container["name"])


# --- hardening, resources, probes ------------------------------------------------------------


def test_every_container_is_hardened_and_bounded(docs):
    templates = pod_templates(docs)
    assert len(templates) == 9
    for name, template in templates:
        pod = template["spec"]["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in containers(template):
            where = (name, container["name"])
            sec = container["securityContext"]
            assert sec["allowPrivilegeEscalation"] is False, where
            assert sec["readOnlyRootFilesystem"] is True, where
            assert sec["capabilities"]["drop"] == ["ALL"], where
            resources = container["resources"]
            for kind in ("requests", "limits"):
                assert set(resources[kind]) == {"cpu", "memory"}, where


def test_only_the_cache_preparation_runs_as_root(docs):
    """The hostPath cache must be chowned once; that init container may change owners and
    nothing else."""
    root = [
        (name, c["name"], c["securityContext"])
        for name, template in pod_templates(docs)
        for c in containers(template)
        if c["securityContext"].get("runAsUser") == 0
        or c["securityContext"].get("runAsNonRoot") is False
        or c["securityContext"]["capabilities"].get("add")
    ]
    assert [(n, c) for n, c, _ in root] == [
        ("sentiment-model", "prepare-cache"),
        ("sentiment-model-v2", "prepare-cache"),
    ]
    for _, _, security in root:
        assert security["capabilities"]["add"] == ["CHOWN"]


def test_writable_paths_are_volumes(docs):
    """With a read-only root filesystem, /tmp and the metrics folder must be volumes."""
    for name, template in pod_templates(docs):
        volumes = {v["name"]: v for v in template["spec"]["volumes"]}
        for container in template["spec"]["containers"]:
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            metrics_dir = env.get("PROMETHEUS_MULTIPROC_DIR")
            if metrics_dir:
                assert "emptyDir" in volumes[mounts[metrics_dir]], name
            if name not in {"sentiment-postgres", "sentiment-redis"}:
                assert "emptyDir" in volumes[mounts["/tmp"]], name


def test_http_services_are_probed_on_their_health_endpoints(docs):
    for name in ("sentiment-app-v1", "sentiment-app-v2", "sentiment-model", "sentiment-model-v2"):
        template = one(docs, "Deployment", name)["spec"]["template"]
        (container,) = template["spec"]["containers"]
        assert [p["name"] for p in container["ports"]] == ["http"]
        live, ready = container["livenessProbe"]["httpGet"], container["readinessProbe"]["httpGet"]
        assert (live["path"], live["port"]) == ("/health/live", "http")
        assert (ready["path"], ready["port"]) == ("/health/ready", "http")


def test_stateful_services_are_probed(docs):
    for kind, name in (("StatefulSet", "sentiment-postgres"), ("Deployment", "sentiment-redis")):
        (container,) = one(docs, kind, name)["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["exec"] and container["readinessProbe"]["exec"]


def test_postgres_keeps_its_data_on_a_claim(docs):
    postgres = one(docs, "StatefulSet", "sentiment-postgres")
    (claim,) = postgres["spec"]["volumeClaimTemplates"]
    (container,) = postgres["spec"]["template"]["spec"]["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    pgdata = {e["name"]: e["value"] for e in container["env"]}["PGDATA"]
    assert pgdata.startswith(mounts[claim["metadata"]["name"]] + "/")
    assert one(docs, "Service", "sentiment-postgres")["spec"]["clusterIP"] == "None"


@pytest.mark.parametrize(
    ("deployment", "config_map"),
    [
        ("sentiment-model", "sentiment-model-config"),
        ("sentiment-model-v2", "sentiment-model-v2-config"),
    ],
)
def test_model_pods_mount_token_and_shared_cache(docs, deployment, config_map):
    spec = one(docs, "Deployment", deployment)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "hostPath" in volumes["shared-volume"]
    assert volumes["github-token"]["secret"]["secretName"] == "github-token"
    (container,) = spec["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["shared-volume"] == "/mnt/shared"
    refs = [e["configMapRef"]["name"] for e in container["envFrom"]]
    assert config_map in refs
    model_config = one(docs, "ConfigMap", config_map)["data"]
    assert model_config["MODEL_CACHE_DIR"].startswith("/mnt/shared/")
    assert model_config["MODEL_TOKEN_FILE"] == mounts["github-token"] + "/token"
    assert model_config["MODEL_DIR"] in [m["mountPath"] for m in container["volumeMounts"]]


# --- identities and references -----------------------------------------------------------


def test_each_workload_has_its_own_service_account(docs):
    accounts = {d["metadata"]["name"]: d for d in by_kind(docs, "ServiceAccount")}
    used = Counter(t["spec"]["serviceAccountName"] for _, t in pod_templates(docs))
    # v1 and v2 are one workload (the web app, the model service) in two versions; every
    # other pod is alone.
    assert used.pop("sentiment-app") == 2
    assert used.pop("sentiment-model") == 2
    assert set(used.values()) == {1}
    assert set(used) | {"sentiment-app", "sentiment-model"} == set(accounts)
    for name, template in pod_templates(docs):
        assert template["spec"]["automountServiceAccountToken"] is False, name


def test_authorization_policies_name_existing_identities(docs):
    accounts = {d["metadata"]["name"] for d in by_kind(docs, "ServiceAccount")}
    for policy in by_kind(docs, "AuthorizationPolicy"):
        for rule in policy["spec"]["rules"]:
            for source in rule.get("from", []):
                for principal in source["source"].get("principals", []):
                    ns, sa = PRINCIPAL.fullmatch(principal).groups()
                    assert ns == NS and sa in accounts, principal
    callers = one(docs, "AuthorizationPolicy", "sentiment-model-callers")["spec"]
    assert callers["selector"]["matchLabels"] == {"app": "sentiment-model"}
    assert callers["action"] == "ALLOW"
    (rule,) = callers["rules"]
    principals = {p for s in rule["from"] for p in s["source"]["principals"]}
    assert principals == {
        "cluster.local/ns/sentiment/sa/sentiment-app",
        "cluster.local/ns/sentiment/sa/sentiment-worker",
    }


def test_peer_authentication_is_strict_for_the_namespace(docs):
    peer = one(docs, "PeerAuthentication", "sentiment-mtls")
    assert peer["spec"] == {"mtls": {"mode": "STRICT"}}  # no selector: the whole namespace


def test_every_reference_resolves(installed):
    """ConfigMaps, Secrets and their keys, volumes: a typo here would leave a pod pending."""
    docs = installed
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in by_kind(docs, "ConfigMap")}
    secrets = {d["metadata"]["name"]: d.get("stringData", {}) for d in by_kind(docs, "Secret")}
    claims = {
        d["metadata"]["name"]: {c["metadata"]["name"] for c in d["spec"]["volumeClaimTemplates"]}
        for d in by_kind(docs, "StatefulSet")
    }
    for name, template in pod_templates(docs):
        volumes = {v["name"]: v for v in template["spec"]["volumes"]}
        for volume in volumes.values():
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets, (name, volume)
        for container in containers(template):
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in config_maps, (name, source)
            for env in container.get("env", []):
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in secrets[ref["name"]], (name, env)
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes.keys() | claims.get(name, set()), (name, mount)


def test_secret_file_variables_point_into_mounted_secrets(installed):
    """DJANGO_SECRET_KEY_FILE, DATABASE_PASSWORD_FILE, MODEL_TOKEN_FILE: the file each names is
    a key of a Secret mounted in every container that gets the variable."""
    docs = installed
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in by_kind(docs, "ConfigMap")}
    secrets = {d["metadata"]["name"]: d.get("stringData", {}) for d in by_kind(docs, "Secret")}
    checked = 0
    for name, template in pod_templates(docs):
        volumes = {v["name"]: v for v in template["spec"]["volumes"]}
        for container in template["spec"]["containers"]:
            env = {}
            for source in container.get("envFrom", []):
                env.update(config_maps[source["configMapRef"]["name"]])
            env.update({e["name"]: e.get("value") for e in container.get("env", [])})
            for var, path in env.items():
                if not var.endswith("_FILE") or not path:
                    continue
                folder, file = path.rsplit("/", 1)
                mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
                assert folder in mounts, (name, var)
                secret = volumes[mounts[folder]]["secret"]["secretName"]
                assert file in secrets[secret], (name, var)
                checked += 1
    assert checked >= 10


# --- services, versions, routing objects ---------------------------------------------------


def test_services_select_pods_and_name_their_ports(docs):
    templates = [t for _, t in pod_templates(docs)]
    for service in by_kind(docs, "Service"):
        selector = service["spec"]["selector"]
        selected = [t for t in templates if selector.items() <= t["metadata"]["labels"].items()]
        assert selected, service["metadata"]["name"]
        for port in service["spec"]["ports"]:
            names = {
                p["name"] for t in selected for c in t["spec"]["containers"] for p in c["ports"]
            }
            assert port["targetPort"] in names, (service["metadata"]["name"], port)
    app = one(docs, "Service", "sentiment-app-service")["spec"]
    assert app["type"] == "ClusterIP" and app["selector"] == {"app": "sentiment-app"}
    assert [p["name"] for p in app["ports"]] == ["http"]
    model = one(docs, "Service", "sentiment-model-service")["spec"]
    assert [(p["name"], p["port"]) for p in model["ports"]] == [("http", 5000)]


def _normalized(deployment: dict) -> dict:
    d = copy.deepcopy(deployment)
    d["spec"].pop("replicas", None)
    version = d["metadata"]["labels"]["version"]
    d["metadata"]["name"] = "X"
    for labels in (
        d["metadata"]["labels"],
        d["spec"]["selector"]["matchLabels"],
        d["spec"]["template"]["metadata"]["labels"],
    ):
        assert labels.pop("version") == version
    for container in d["spec"]["template"]["spec"]["containers"]:
        for env in container["env"]:
            if env["name"] == "APP_VARIANT":
                assert env["value"] == version
                env["value"] = "X"
    return d


def test_app_versions_differ_only_in_version(docs):
    v1 = one(docs, "Deployment", "sentiment-app-v1")
    v2 = one(docs, "Deployment", "sentiment-app-v2")
    for deployment, version in ((v1, "v1"), (v2, "v2")):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels["app"] == "sentiment-app" and labels["version"] == version
    # v1 is scaled by its autoscaler, the canary v2 is one pod.
    assert "replicas" not in v1["spec"] and v2["spec"]["replicas"] == 1
    assert _normalized(v1) == _normalized(v2)


def test_destination_rule_subsets_are_the_app_versions(docs):
    rule = one(docs, "DestinationRule", "sentiment-app-destination")["spec"]
    assert rule["host"] == "sentiment-app-service.sentiment.svc.cluster.local"
    assert {s["name"]: s["labels"] for s in rule["subsets"]} == {
        "v1": {"version": "v1"},
        "v2": {"version": "v2"},
    }
    assert rule["trafficPolicy"]["connectionPool"] and rule["trafficPolicy"]["outlierDetection"]
    vs = one(docs, "VirtualService", "sentiment-vs")["spec"]
    hosts = {r["destination"]["host"] for h in vs["http"] for r in h["route"]}
    assert hosts == {rule["host"]}


def test_gateway_serves_https_and_redirects_http(docs):
    gateway = one(docs, "Gateway", "sentiment-gateway")["spec"]
    assert gateway["selector"] == {"istio": "ingressgateway"}
    servers = {s["port"]["name"]: s for s in gateway["servers"]}
    assert {n: (s["port"]["number"], s["port"]["protocol"]) for n, s in servers.items()} == {
        "http": (80, "HTTP"),
        "https": (443, "HTTPS"),
    }
    for server in servers.values():
        assert set(server["hosts"]) == {
            "sentiment.local",
            "prometheus.sentiment.local",
            "grafana.sentiment.local",
        }
    assert servers["http"]["tls"] == {"httpsRedirect": True}
    tls = servers["https"]["tls"]
    assert tls["mode"] == "SIMPLE" and tls["credentialName"] == "sentiment-tls"


def test_monitoring_routes_come_from_the_one_targets_file(docs):
    targets = yaml.safe_load((DEPLOY / "istio" / "monitoring-targets.yaml").read_text())["spec"]
    assert not [d for d in docs if d["kind"] == "MonitoringTargets"]  # local config only
    for name, target in (
        ("sentiment-prometheus-vs", targets["prometheus"]),
        ("sentiment-grafana-vs", targets["grafana"]),
    ):
        (http,) = one(docs, "VirtualService", name)["spec"]["http"]
        (route,) = http["route"]
        assert route["destination"] == {"host": target["host"], "port": {"number": target["port"]}}


# --- images and the configuration each pod gets ----------------------------------------------


def test_images_are_the_release_of_this_version(docs):
    images = {
        c["image"]
        for name, template in pod_templates(docs)
        if name not in {"sentiment-postgres", "sentiment-redis"}
        for c in containers(template)
    }
    (image,) = images
    assert re.fullmatch(r"ghcr\.io/[a-z0-9-]+/sentiment-app:" + re.escape(APP_VERSION), image)


def _pod_environment(docs, template: dict, container: dict, root: Path) -> dict:
    """The container's environment, with its volumes emulated under ``root``: every mount
    path becomes a folder there, Secret volumes filled with the Secret's keys."""
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in by_kind(docs, "ConfigMap")}
    secrets = {d["metadata"]["name"]: d.get("stringData", {}) for d in by_kind(docs, "Secret")}
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    mounts = {}
    for mount in container["volumeMounts"]:
        local = root / mount["name"]
        local.mkdir(parents=True, exist_ok=True)
        secret = volumes[mount["name"]].get("secret")
        if secret:
            for file, value in secrets[secret["secretName"]].items():
                (local / file).write_text(value)
        mounts[mount["mountPath"]] = local
    env = {}
    for source in container.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]])
    for item in container.get("env", []):
        ref = (item.get("valueFrom") or {}).get("secretKeyRef")
        env[item["name"]] = secrets[ref["name"]][ref["key"]] if ref else item["value"]
    for var, value in env.items():
        for mount_path, local in mounts.items():
            if value == mount_path or value.startswith(mount_path + "/"):
                env[var] = str(local) + value[len(mount_path) :]
    return env


def test_each_pods_configuration_is_accepted_by_django(installed, tmp_path):
    """`manage.py check` under the exact environment each Django container gets (APP_MODE=prod,
    secrets read from their mounted files, as create-secrets.sh makes them): a setting the code
    refuses fails here, not in the cluster."""
    docs = installed
    runs = []
    for name, template in pod_templates(docs):
        if name in {"sentiment-postgres", "sentiment-redis", "sentiment-app-v2"}:
            continue
        (container,) = template["spec"]["containers"]
        env = _pod_environment(docs, template, container, tmp_path / name)
        assert env["APP_MODE"] == "prod"
        full_env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env}
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "check", "--fail-level", "ERROR"],
            cwd=REPO,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        runs.append((name, env["DJANGO_SETTINGS_MODULE"], proc))
    assert {settings for _, settings, _ in runs} == {"webapp.settings", "modelsvc.settings"}
    for name, _, proc in runs:
        output, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{name}:\n{output[-3000:]}"


@pytest.mark.parametrize("path", ["k8s", "istio"])
def test_sub_kustomizations_render_on_their_own(path):
    """deploy/istio renders alone (scripts/mesh.sh reads it without the monitoring stack)."""
    from tests.deploy.manifests import kubectl

    result = subprocess.run(
        [kubectl(), "kustomize", str(DEPLOY / path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("overlay", ["", "demo"])
def test_app_security_settings_follow_the_gateways_tls(overlay, installed, tmp_path):
    """One setting, TLS_ENABLED, says whether the gateway serves HTTPS: Secure cookies and the
    HTTPS redirect follow it (on with TLS, off on the demo's plain-HTTP gateway, where
    browsers would drop Secure cookies and nobody could sign in)."""
    from tests.deploy.manifests import kubectl

    if overlay:
        rendered = subprocess.run(
            [kubectl(), "kustomize", str(DEPLOY / overlay)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        docs = [d for d in yaml.safe_load_all(rendered) if d]
    else:
        docs = installed
    gateway = one(docs, "Gateway", "sentiment-gateway")["spec"]
    https = any(s["port"]["protocol"] == "HTTPS" for s in gateway["servers"])
    redirect = all(
        s.get("tls", {}).get("httpsRedirect")
        for s in gateway["servers"]
        if s["port"]["protocol"] == "HTTP"
    )
    config = one(docs, "ConfigMap", "sentiment-config")["data"]
    assert config["TLS_ENABLED"] == ("true" if https else "false")
    assert redirect == https
    assert config["CSRF_TRUSTED_ORIGINS"] == ("https" if https else "http") + "://sentiment.local"
    for config_map in by_kind(docs, "ConfigMap"):
        assert not {"SECURE_SSL_REDIRECT", "SECURE_COOKIES"} & set(config_map.get("data", {}))
    template = one(docs, "Deployment", "sentiment-app-v1")["spec"]["template"]
    (container,) = template["spec"]["containers"]
    env = _pod_environment(docs, template, container, tmp_path / "pod")
    probe = (
        "import json, django; from django.conf import settings; django.setup(); "
        "print(json.dumps({n: getattr(settings, n) for n in ("
        "'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'VISITOR_COOKIE_SECURE', "
        "'SECURE_SSL_REDIRECT')}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    flags = json.loads(result.stdout.strip().splitlines()[-1])
    assert flags == dict.fromkeys(flags, https)

"""Files for a local Prometheus: the alert rules and the scrape configuration.

    python monitoring/local/render.py OUT_DIR

writes OUT_DIR/rules.yml (the ``spec`` of monitoring/prometheusrule.yaml, so the cluster and
the local Prometheus evaluate the same rules) and OUT_DIR/prometheus.yml (prometheus.yml of
this folder with its placeholders filled from the environment, defaults below).
"""

import os
import string
import sys
from pathlib import Path

import yaml

MONITORING = Path(__file__).resolve().parents[1]
RULE_OBJECT = MONITORING / "prometheusrule.yaml"
CONFIG_TEMPLATE = MONITORING / "local" / "prometheus.yml"

DEFAULTS = {
    "SCRAPE_INTERVAL": "5s",
    "MODELSVC_PORT": "5000",
    "MODELSVC_V2_PORT": "5004",
    "WEBAPP_PORT": "5001",
    "WEBAPP_V2_PORT": "5002",
    "WORKER_METRICS_PORT": "5003",
    "ENVOY_ADMIN_PORT": "9901",
}


def rule_groups() -> dict:
    """The Prometheus rule file inside the PrometheusRule object."""
    rule = yaml.safe_load(RULE_OBJECT.read_text())
    if rule.get("kind") != "PrometheusRule":
        raise ValueError(f"{RULE_OBJECT} is not a PrometheusRule")
    return rule["spec"]


def write_rules(path: Path) -> Path:
    path.write_text(yaml.safe_dump(rule_groups(), sort_keys=False, width=1000))
    return path


def write_config(path: Path, rules_file: Path, **values: str) -> Path:
    """The scrape configuration; rules_file absolute (Prometheus resolves a relative one
    against the configuration's folder). The scrape timeout defaults to the interval."""
    settings = {**DEFAULTS, **values, "RULES_FILE": str(rules_file.resolve())}
    settings.setdefault("SCRAPE_TIMEOUT", settings["SCRAPE_INTERVAL"])
    path.write_text(string.Template(CONFIG_TEMPLATE.read_text()).substitute(settings))
    return path


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[0]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    rules = write_rules(out / "rules.yml")
    names = [*DEFAULTS, "SCRAPE_TIMEOUT"]
    values = {name: os.environ[name] for name in names if os.environ.get(name)}
    write_config(out / "prometheus.yml", rules, **values)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

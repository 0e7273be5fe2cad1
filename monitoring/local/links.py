"""Links to the local Prometheus's graph page (2.x, as Debian ships it) for every query of
every Grafana dashboard:

    python monitoring/local/links.py OUT_FILE [--prometheus URL] [--scrape-interval 5s]

prints them per dashboard and panel and writes them to OUT_FILE (Markdown), so that a user
of `make monitor`, who has no Grafana, sees each panel's query over the dashboard's time
range in Prometheus's own UI. Grafana's variables are filled in as Grafana would on a fresh
dashboard: a variable showing "All" becomes its all-value, ``$__range`` the dashboard's
range, ``$__rate_interval`` four scrape intervals (Grafana's rule, whichever is larger of
that and one step plus one scrape, and the step locally is shorter than a scrape).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

DASHBOARDS = Path(__file__).resolve().parents[1] / "dashboards"
# The graph page of Prometheus 2 as Debian ships it (2.42: the classic UI only; its /graph
# redirects there), and its tabs: g0.tab 0 is Graph, 1 Console (the value now).
GRAPH_PAGE = "/classic/graph"
GRAPH_TAB, TABLE_TAB = "0", "1"
_DURATION = re.compile(r"^(\d+)([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(duration: str) -> int:
    match = _DURATION.match(duration)
    if not match:
        raise ValueError(f"not a duration like 5s, 1m or 1h: {duration!r}")
    return int(match.group(1)) * _SECONDS[match.group(2)]


def duration(total: int) -> str:
    for unit in ("d", "h", "m"):
        if total % _SECONDS[unit] == 0:
            return f"{total // _SECONDS[unit]}{unit}"
    return f"{total}s"


def time_range(board: dict, panel: dict) -> str:
    """The panel's time range as Prometheus's range input ("1h"): its own or the board's."""
    start = panel.get("timeFrom") or board["time"]["from"].removeprefix("now-")
    return duration(seconds(start))


def variable_values(board: dict) -> dict[str, str]:
    """Each dashboard variable's value as a fresh dashboard shows it ("All" where offered)."""
    values = {}
    for variable in board.get("templating", {}).get("list", []):
        if variable["type"] == "datasource":
            continue
        if variable.get("allValue"):
            values[variable["name"]] = variable["allValue"]
        elif variable["type"] == "custom":
            values[variable["name"]] = "|".join(variable["query"].split(","))
        else:
            values[variable["name"]] = ".*"
    return values


def substitute(expr: str, values: dict[str, str]) -> str:
    """``expr`` with every ``$name`` and ``${name}`` replaced; longest names first."""
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace("${" + name + "}", values[name]).replace("$" + name, values[name])
    return expr


def panels(board: dict) -> list[dict]:
    """Every panel with queries, rows' children included, in dashboard order."""
    found: list[dict] = []
    for panel in board["panels"]:
        found.extend(panels(panel) if panel.get("panels") else [])
        if panel.get("targets"):
            found.append(panel)
    return found


def links(board: dict, prometheus: str, scrape_interval: str) -> list[dict[str, Any]]:
    """(panel title, query, URL) for every target of every panel of ``board``."""
    base = variable_values(board)
    result = []
    for panel in panels(board):
        window = time_range(board, panel)
        values = {
            **base,
            "__range": window,
            "__rate_interval": duration(4 * seconds(scrape_interval)),
            "__interval": scrape_interval,
        }
        tab = GRAPH_TAB if panel["type"] == "timeseries" else TABLE_TAB
        several = len(panel["targets"]) > 1
        for target in panel["targets"]:
            expr = substitute(target["expr"], values)
            query = {"g0.expr": expr, "g0.tab": tab, "g0.range_input": window}
            legend = target.get("legendFormat", "")
            title = panel["title"]
            if several and legend and legend != "__auto":
                title = f"{title}: {legend}"
            result.append(
                {
                    "panel": title,
                    "expr": expr,
                    "url": f"{prometheus}{GRAPH_PAGE}?{urlencode(query)}",
                }
            )
    return result


def markdown(boards: dict[str, dict], prometheus: str, scrape_interval: str) -> str:
    lines = ["# Dashboard panels in the local Prometheus", ""]
    for board in boards.values():
        lines += [f"## {board['title']}", ""]
        lines += [
            f"- [{link['panel']}]({link['url']})"
            for link in links(board, prometheus, scrape_interval)
        ]
        lines.append("")
    return "\n".join(lines)


def load_dashboards() -> dict[str, dict]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--prometheus", default="http://127.0.0.1:9090")
    parser.add_argument("--scrape-interval", default="5s")
    args = parser.parse_args()
    boards = load_dashboards()
    prometheus = args.prometheus.rstrip("/")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(markdown(boards, prometheus, args.scrape_interval))
    for board in boards.values():
        print(board["title"])
        for link in links(board, prometheus, args.scrape_interval):
            print(f"  {link['panel']}\n    {link['url']}")


if __name__ == "__main__":
    main()

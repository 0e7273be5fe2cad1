"""Qualification: may this trained model ship? Every check, its figures and its bar.

Checks (each passes or fails on its own; the model ships only when all pass):

- **integrity**: the artifact loads only through modelsvc/artifact.py (checksum against the
  manifest before unpickling); the manifest's version matches the artifact's, and the
  libraries that define the pickle match the running environment;
- **accuracy** and **F1** on the evaluation set: the held-out split the manifest records
  (rebuilt from its sources, whose checksums must match), or ``data``;
- **regression** against a baseline on the very same reviews: exact McNemar test (the
  binomial test on the discordant pairs, McNemar 1947); the candidate fails when it makes
  significantly more errors, one-sided p < ``alpha``. A drop within that noise passes;
- **behaviour**: the suites in modelsvc/ml/behaviour/ (CheckList, Ribeiro et al. 2020), each
  with its pass-rate floor;
- **calibration**: Brier score and expected calibration error, ECE = sum over bins of
  (n_b / N) * |accuracy_b - confidence_b| with ``ECE_BINS`` equal-width bins of the predicted
  class's probability over [0, 1] (Guo et al. 2017), each under a ceiling;
- **cost**: median in-process latency of ``predict_proba`` on one review, under a budget.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from modelsvc.artifact import MANIFEST_NAME, Artifact, ArtifactError, Pipeline, load_trained
from modelsvc.drift import POSITIVE_FROM
from modelsvc.ml.dataset import DatasetError
from modelsvc.ml.sources import Merged, held_out_rows, load_sources
from modelsvc.ml.training import library_versions, scores

BEHAVIOUR_DIR = Path(__file__).resolve().parent / "behaviour"
REPORT_NAME = "qualification.json"
ECE_BINS = 10
COST_RUNS = 101
# What decides whether a pickle loads and behaves as it was trained; the rest is reported.
PINNED_LIBRARIES = ("scikit-learn", "joblib", "numpy", "scipy")
POSITIVE = ("negative", "positive")


@dataclass(frozen=True)
class Bars:
    min_accuracy: float = 0.85
    min_f1: float = 0.85
    alpha: float = 0.05
    max_brier: float = 0.15
    max_ece: float = 0.10
    p50_budget_ms: float = 10.0


@dataclass
class Check:
    name: str
    passed: bool
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


# --- statistics ------------------------------------------------------------------------------


def mcnemar_exact(baseline_right: Sequence[bool], candidate_right: Sequence[bool]) -> dict:
    """Discordant pairs and the one-sided exact p-value that the candidate is worse."""
    worse = sum(b and not c for b, c in zip(baseline_right, candidate_right, strict=True))
    better = sum(c and not b for b, c in zip(baseline_right, candidate_right, strict=True))
    n = worse + better
    # P(X >= worse) for X ~ Binomial(n, 1/2): under the null both kinds of discordance are equal.
    p_worse = sum(math.comb(n, k) for k in range(worse, n + 1)) / 2**n if n else 1.0
    return {"candidate_worse": worse, "candidate_better": better, "p_value": p_worse}


def brier(truth: Sequence[int], positive: np.ndarray) -> float:
    return float(np.mean((positive - np.asarray(truth)) ** 2))


def expected_calibration_error(truth: Sequence[int], positive: np.ndarray) -> float:
    predicted = (positive >= POSITIVE_FROM).astype(int)
    confidence = np.where(predicted == 1, positive, 1.0 - positive)
    right = predicted == np.asarray(truth)
    bins = np.minimum((confidence * ECE_BINS).astype(int), ECE_BINS - 1)
    total = 0.0
    for b in range(ECE_BINS):
        members = bins == b
        if members.any():
            gap = abs(right[members].mean() - confidence[members].mean())
            total += members.mean() * gap
    return float(total)


# --- checks ----------------------------------------------------------------------------------


def _integrity(folder: Path, artifact: Artifact, manifest: dict) -> Check:
    problems = []
    if manifest.get("version") != artifact.version:
        problems.append(f"manifest version {manifest.get('version')} != {artifact.version}")
    running = library_versions()
    recorded = manifest.get("libraries", {})
    for name in PINNED_LIBRARIES:
        if recorded.get(name) != running[name]:
            problems.append(f"{name} {recorded.get(name)} trained, {running[name]} running")
    trained_py = ".".join(str(recorded.get("python", "")).split(".")[:2])
    running_py = ".".join(running["python"].split(".")[:2])
    if trained_py != running_py:
        problems.append(f"python {trained_py} trained, {running_py} running")
    summary = "; ".join(problems) or f"sha256 {artifact.sha256[:12]}… verified, libraries match"
    return Check(
        "integrity", not problems, summary, {"sha256": artifact.sha256, "libraries": recorded}
    )


def _evaluation_set(manifest: dict, data: str | None) -> tuple[Merged, str]:
    if data:
        return load_sources([data]), f"--data {data}"
    sources = manifest.get("sources") or []
    held = (manifest.get("held_out") or {}).get("text_sha256")
    if not sources or not held:
        raise DatasetError("the manifest records no held-out split: pass --data")
    merged = held_out_rows([s["path"] for s in sources], held)
    for recorded, found in zip(sources, merged.sources, strict=True):
        if recorded["sha256"] != found.sha256:
            raise DatasetError(
                f"{recorded['path']}: its checksum is not the one the model was trained on"
            )
    return merged, f"held-out split of {', '.join(s['path'] for s in sources)}"


def _accuracy(truth: list[int], predicted: np.ndarray, bars: Bars) -> Check:
    figures = scores(truth, predicted.tolist())
    passed = figures["accuracy"] >= bars.min_accuracy and figures["f1"] >= bars.min_f1
    summary = (
        f"accuracy {figures['accuracy']:.3f} (floor {bars.min_accuracy}), "
        f"F1 {figures['f1']:.3f} (floor {bars.min_f1}) on {len(truth)} reviews"
    )
    return Check("accuracy", passed, summary, figures)


def _regression(
    truth: list[int], predicted: np.ndarray, baseline: Artifact, bars: Bars, texts: list[str]
) -> Check:
    base = np.asarray(baseline.pipeline.predict(texts))
    result = mcnemar_exact((base == truth).tolist(), (predicted == truth).tolist())
    passed = not (
        result["candidate_worse"] > result["candidate_better"] and result["p_value"] < bars.alpha
    )
    summary = (
        f"vs baseline {baseline.version}: candidate wrong where baseline right on "
        f"{result['candidate_worse']}, right where baseline wrong on {result['candidate_better']}; "
        f"exact McNemar one-sided p = {result['p_value']:.3g} (fails below {bars.alpha})"
    )
    details = result | {
        "baseline_version": baseline.version,
        "baseline_accuracy": float(np.mean(base == truth)),
        "alpha": bars.alpha,
    }
    return Check("regression", passed, summary, details)


def _calibration(truth: list[int], positive: np.ndarray, bars: Bars) -> Check:
    score, ece = brier(truth, positive), expected_calibration_error(truth, positive)
    passed = score <= bars.max_brier and ece <= bars.max_ece
    summary = (
        f"Brier {score:.3f} (ceiling {bars.max_brier}), ECE {ece:.3f} "
        f"({ECE_BINS} equal-width bins; ceiling {bars.max_ece})"
    )
    return Check("calibration", passed, summary, {"brier": score, "ece": ece, "bins": ECE_BINS})


def _cost(pipeline: Pipeline, text: str, bars: Bars) -> Check:
    pipeline.predict_proba([text])  # warm caches first
    timings = []
    for _ in range(COST_RUNS):
        started = time.perf_counter()
        pipeline.predict_proba([text])
        timings.append((time.perf_counter() - started) * 1000)
    p50 = statistics.median(timings)
    summary = f"one review p50 {p50:.2f} ms in-process (budget {bars.p50_budget_ms} ms)"
    return Check("cost", p50 <= bars.p50_budget_ms, summary, {"p50_ms": p50, "runs": COST_RUNS})


# --- behaviour suites ------------------------------------------------------------------------


def load_suites(folder: Path = BEHAVIOUR_DIR) -> list[dict]:
    return [
        yaml.safe_load(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.yaml"))
    ]


def _case_results(suite: dict, proba: Any) -> list[tuple[dict, bool, str]]:
    results = []
    for case in suite["cases"]:
        if suite["kind"] == "mft":
            p = proba([case["text"]])[0]
            got = POSITIVE[int(p >= POSITIVE_FROM)]
            results.append(
                (
                    case,
                    got == case["expected"],
                    f"{case['text']!r}: {got} (P+ {p:.2f}), expected {case['expected']}",
                )
            )
        elif suite["kind"] == "invariance":
            texts = [case["template"].replace("{x}", fill) for fill in case["fills"]]
            p = proba(texts)
            labels = {POSITIVE[int(v >= POSITIVE_FROM)] for v in p}
            shown = ", ".join(
                f"{t!r} {POSITIVE[int(v >= POSITIVE_FROM)]}" for t, v in zip(texts, p, strict=True)
            )
            results.append((case, len(labels) == 1, shown))
        else:
            before, after = proba([case["text"], f"{case['text']} {case['addition']}"])
            ok = after <= before + suite.get("tolerance", 0.0)
            results.append(
                (
                    case,
                    ok,
                    f"{case['text']!r} + {case['addition']!r}: P+ {before:.2f} -> {after:.2f}",
                )
            )
    return results


def _behaviour(suite: dict, pipeline: Pipeline) -> Check:
    def proba(texts: list[str]) -> list[float]:
        return pipeline.predict_proba(texts)[:, 1].tolist()

    results = _case_results(suite, proba)
    rate = sum(ok for _, ok, _ in results) / len(results)
    held = [ok for case, ok, _ in results if case.get("held_out")]
    held_rate = sum(held) / len(held) if held else None
    failures = [
        {"capability": case["capability"], "held_out": bool(case.get("held_out")), "case": shown}
        for case, ok, shown in results
        if not ok
    ]
    summary = f"pass rate {rate:.2f} (floor {suite['floor']}) over {len(results)} cases"
    if held_rate is not None:
        summary += f"; held-out cases {held_rate:.2f} of {len(held)}"
    details = {
        "pass_rate": rate,
        "floor": suite["floor"],
        "held_out_pass_rate": held_rate,
        "failures": failures,
    }
    return Check(f"behaviour:{suite['suite']}", rate >= suite["floor"], summary, details)


# --- the whole qualification ----------------------------------------------------------------


def qualify(
    model_dir: str | os.PathLike[str],
    *,
    baseline_dir: str | os.PathLike[str] | None = None,
    data: str | None = None,
    bars: Bars | None = None,
) -> dict[str, Any]:
    """Run every check and write ``qualification.json`` beside the artifact; the report."""
    bars = bars or Bars()
    folder = Path(model_dir)
    try:
        artifact = load_trained(folder)
    except ArtifactError as exc:
        checks = [Check("integrity", False, f"refused before unpickling: {exc}")]
        return _write(folder, None, checks, bars, "")
    manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    checks = [_integrity(folder, artifact, manifest)]
    evaluation, described = _evaluation_set(manifest, data)
    positive = np.asarray(artifact.pipeline.predict_proba(evaluation.texts))[:, 1]
    predicted = (positive >= POSITIVE_FROM).astype(int)
    checks.append(_accuracy(evaluation.labels, predicted, bars))
    if baseline_dir is not None:
        baseline = load_trained(baseline_dir)
        checks.append(_regression(evaluation.labels, predicted, baseline, bars, evaluation.texts))
    checks += [_behaviour(suite, artifact.pipeline) for suite in load_suites()]
    checks.append(_calibration(evaluation.labels, positive, bars))
    checks.append(_cost(artifact.pipeline, evaluation.texts[0], bars))
    return _write(folder, artifact.version, checks, bars, described)


def _write(
    folder: Path, version: str | None, checks: list[Check], bars: Bars, evaluation: str
) -> dict:
    report = {
        "version": version,
        "qualified": all(check.passed for check in checks),
        "evaluation_set": evaluation,
        "bars": asdict(bars),
        "checks": [asdict(check) for check in checks],
    }
    (folder / REPORT_NAME).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def render(report: dict) -> str:
    """The report for a person: one line per check, then every failing case."""
    verdict = "QUALIFIED: may ship" if report["qualified"] else "NOT QUALIFIED: must not ship"
    lines = [f"model {report['version']}: {verdict}", f"evaluation set: {report['evaluation_set']}"]
    for check in report["checks"]:
        lines.append(
            f"  [{'pass' if check['passed'] else 'FAIL'}] {check['name']}: {check['summary']}"
        )
        for failure in check["details"].get("failures", []):
            mark = " (held out)" if failure["held_out"] else ""
            lines.append(f"      - {failure['capability']}{mark}: {failure['case']}")
    return "\n".join(lines)

"""Per-review cost of trained models, each in a fresh process as the service would hold it.

    .venv/bin/python bench/model_cost.py var/model var/model-v2 [--samples N] [--json PATH]

For each model folder: load it the service's way (artifact.load_trained: verify, then load),
score single reviews of a2 one at a time with predict_proba, and report p50/p95 in ms and the
process's resident memory (VmRSS, MB) after the model is loaded and warm. CPU p50 (process
time per call) is printed beside wall-clock p50: on a shared, loaded machine it is the steadier
measure of what one call costs. One process per
model, so one model's memory is never counted in another's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WARMUP = 20


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(model_dir: str, samples: int) -> dict[str, object]:
    """In this process: load, warm up, time ``samples`` single-review calls."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "modelsvc.settings")
    import django  # noqa: PLC0415

    django.setup()
    from devtools.data import A2  # noqa: PLC0415
    from modelsvc import artifact  # noqa: PLC0415
    from modelsvc.ml.dataset import load_unlabelled_tsv  # noqa: PLC0415

    loaded = artifact.load_trained(model_dir)
    reviews = load_unlabelled_tsv(A2) if Path(A2).exists() else ["The food was great."]
    for review in reviews[:WARMUP]:
        loaded.pipeline.predict_proba([review])
    timings, cpu = [], []
    for i in range(samples):
        review = reviews[i % len(reviews)]
        started, cpu_started = time.perf_counter(), time.process_time()
        loaded.pipeline.predict_proba([review])
        cpu.append((time.process_time() - cpu_started) * 1000)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    manifest = json.loads((Path(model_dir) / artifact.MANIFEST_NAME).read_text(encoding="utf-8"))
    return {
        "model": model_dir,
        "pipeline": manifest.get("pipeline", "lexical"),
        "version": loaded.version,
        "cv_accuracy": loaded.metrics.get("cv_accuracy"),
        "held_out_accuracy": loaded.metrics.get("accuracy"),
        "p50_ms": statistics.median(timings),
        "p95_ms": timings[int(len(timings) * 0.95) - 1],
        "cpu_p50_ms": statistics.median(cpu),
        "rss_mb": _rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="trained model folders")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.models[0], args.samples)))
        return
    rows = []
    for model in args.models:
        out = subprocess.run(
            [sys.executable, __file__, "--one", "--samples", str(args.samples), model],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("| pipeline | 5-fold CV | held-out | p50 ms | p95 ms | CPU p50 ms | RSS MB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['pipeline']} | {row['cv_accuracy']:.3f} | {row['held_out_accuracy']:.3f} "
            f"| {row['p50_ms']:.2f} | {row['p95_ms']:.2f} | {row['cpu_p50_ms']:.2f} "
            f"| {row['rss_mb']:.0f} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

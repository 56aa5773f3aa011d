"""Device check: CUDA training, GPU -> CPU portability and the CUDA execution provider.

Run on a machine with a CUDA build of torch (not part of ``make test``; CI has no GPU)::

    python bench/gpu_check.py --json gpu_check.json

What it checks, each printed as ``ok``/``FAIL`` and written to the JSON report:

1. Training with ``device="cuda"`` (CE and BCE) gives finite losses and a validation
   NDCG@10 close to the same fit on the CPU (same data, same seed; the random streams
   differ, so the numbers are compared with a tolerance, not for equality).
2. A model trained on the GPU saves, loads on the CPU in a process that sees no GPU
   (``CUDA_VISIBLE_DEVICES=""``) with a ``DeviceFallbackWarning``, and gives the GPU
   model's scores there.
3. ``export_onnx`` of the GPU-trained model validates against torch, and the artifact's
   scores and top-10 lists under each available onnxruntime provider
   (``CUDAExecutionProvider`` when this onnxruntime has it, i.e. the ``onnxruntime-gpu``
   wheel) match the CPU provider's; the median scoring time of each provider is reported.
4. Item priors (EASE and low-rank) with a CUDA-trained network: the model's scores equal a
   CPU copy of its network refitted with the same prior (``refit_item_prior``), and the
   checks of 2-3 pass for it (the artifact then has the ``history_items`` input).

Exits 0 with ``SKIP`` when CUDA is not available, 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PARAMS = dict(hidden_units=64, num_blocks=2, max_len=50, epochs=8, batch_size=128,
              early_stopping_patience=None, monitor="val_ndcg@10", random_state=0)

LOAD_ON_CPU = """
import sys, warnings, numpy as np
from seqrec_trainer import DeviceFallbackWarning, SequentialRecommender
from seqrec_trainer.evaluation import leave_one_out_split
from seqrec_trainer.datasets import make_sequential_interactions
import torch
assert not torch.cuda.is_available(), "this process should see no GPU"
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    model = SequentialRecommender.load(sys.argv[1])
assert any(issubclass(w.category, DeviceFallbackWarning) for w in caught), caught
split = leave_one_out_split(make_sequential_interactions(n_users=600, random_state=0))
np.save(sys.argv[2], model.score_items(split.test_input))
print(model.scorer.estimator.device_)
"""


def _max_diff(a: np.ndarray, b: np.ndarray, **extra) -> dict:
    """A check that two score matrices agree within 1e-3."""
    diff = float(np.abs(a - b).max())
    return {**extra, "max_abs_diff": diff, "ok": diff < 1e-3}


def _train(device: str, loss: str, split, **extra) -> tuple[object, dict]:
    from seqrec_trainer import (
        InteractionsDataset,
        SASRecClassifierEstimator,
        SequentialRecommender,
        SequentialScorer,
    )

    estimator = SASRecClassifierEstimator(**PARAMS, loss_fn_name=loss, device=device, **extra)
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=PARAMS["max_len"])
    started = time.perf_counter()
    recommender.train(interactions_ds=InteractionsDataset(split.train),
                      valid_interactions_ds=InteractionsDataset(split.valid))
    seconds = time.perf_counter() - started
    history = estimator.history_
    return recommender, {
        "device": str(estimator.device_),
        "wall_s": round(seconds, 2),
        "median_epoch_s": round(float(np.median([h["time_s"] for h in history])), 3),
        "finite": bool(all(np.isfinite(h["loss"]) for h in history)),
        "best_val_ndcg@10": round(max(h["val_ndcg@10"] for h in history), 4),
    }


def _median_seconds(call, repeats: int = 5) -> float:
    """Median wall time of ``call()`` after one warm-up call."""
    call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return round(float(np.median(times)), 4)


def _portability(name: str, model, split, tmp: Path, checks: dict) -> None:
    """Load the GPU-trained ``model`` on the CPU, export it, and serve it with every provider."""
    import onnxruntime as ort
    import seqrec_runtime
    from seqrec_export import export_onnx

    model.save(tmp / name)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", LOAD_ON_CPU, str(tmp / name),
                           str(tmp / f"{name}_cpu.npy")], env=env, capture_output=True, text=True)
    gpu_scores = model.score_items(split.test_input)
    if done.returncode == 0:
        checks[f"{name}_load_on_cpu"] = _max_diff(np.load(tmp / f"{name}_cpu.npy"), gpu_scores,
                                                  device=done.stdout.strip())
    else:
        checks[f"{name}_load_on_cpu"] = {"error": done.stderr[-2000:], "ok": False}

    export_onnx(model, tmp / f"{name}_artifact")
    cpu_runtime = seqrec_runtime.load(tmp / f"{name}_artifact", providers=["CPUExecutionProvider"])
    reference = cpu_runtime.score_items(split.test_input)
    top_cpu = cpu_runtime.recommend(split.test_input, top_k=10)
    checks[f"{name}_export_vs_torch"] = _max_diff(reference, gpu_scores)
    for provider in ort.get_available_providers():
        if provider in ("CPUExecutionProvider", "AzureExecutionProvider"):
            continue
        try:
            runtime = seqrec_runtime.load(tmp / f"{name}_artifact", providers=[provider],
                                          strict_providers=True)
            scores = runtime.score_items(split.test_input)
            top = runtime.recommend(split.test_input, top_k=10)
            checks[f"{name}_provider_{provider}"] = _max_diff(
                scores, reference, providers_used=list(runtime.providers),
                top10_equal_rows=round(float((top == top_cpu).all(1).mean()), 4),
                score_s_median=_median_seconds(
                    lambda r=runtime: r.score_items(split.test_input)),
                cpu_score_s_median=_median_seconds(
                    lambda: cpu_runtime.score_items(split.test_input)))
        except Exception as exc:  # report every provider, do not stop at the first
            checks[f"{name}_provider_{provider}"] = {"error": repr(exc)[:2000], "ok": False}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path, default=Path("gpu_check.json"))
    parser.add_argument("--device", default="cuda",
                        help="'cpu' dry-runs every step here (the device checks then fail)")
    args = parser.parse_args()
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("SKIP: torch sees no CUDA device")
        return 0
    import onnxruntime as ort
    from seqrec_trainer import SequentialRecommender
    from seqrec_trainer.datasets import make_sequential_interactions
    from seqrec_trainer.evaluation import leave_one_out_split

    report: dict = {
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if args.device == "cuda" else "none (dry run)",
        "onnxruntime": ort.__version__,
        "onnxruntime_providers": ort.get_available_providers(),
        "checks": {},
    }
    checks = report["checks"]
    split = leave_one_out_split(make_sequential_interactions(n_users=600, random_state=0))

    # 1. CUDA training vs CPU training.
    for loss in ("ce", "bce"):
        gpu_model, gpu = _train(args.device, loss, split)
        _, cpu = _train("cpu", loss, split)
        gap = abs(gpu["best_val_ndcg@10"] - cpu["best_val_ndcg@10"])
        checks[f"train_{loss}"] = {"cuda": gpu, "cpu": cpu, "val_ndcg_gap": round(gap, 4),
                                   "ok": gpu["finite"] and gpu["device"].startswith("cuda")
                                   and gap < 0.05}
    with tempfile.TemporaryDirectory() as tmp:
        # 2-3. The BCE model (trained last): load without a GPU, export, every provider.
        _portability("bce", gpu_model, split, Path(tmp), checks)
        # 4. Item priors fitted for a CUDA-trained network: the same prior as a CPU refit
        #    of that network, then the same portability checks (history_items input).
        for kind, extra in (("ease", {}), ("low_rank", {"item_prior_rank": 16})):
            prior = dict(item_prior_weight=5.0, item_prior_l2=100.0, item_prior_kind=kind,
                         **extra)
            model, info = _train(args.device, "ce", split, **prior)
            model.save(Path(tmp) / f"{kind}_plain")
            cpu_copy = SequentialRecommender.load(Path(tmp) / f"{kind}_plain", device="cpu")
            cpu_copy.refit_item_prior(split.train, **prior)
            checks[f"{kind}_train"] = {**info, "ok": info["finite"]
                                       and info["device"].startswith("cuda")}
            checks[f"{kind}_cpu_refit_vs_cuda"] = _max_diff(
                cpu_copy.score_items(split.test_input), model.score_items(split.test_input))
            _portability(kind, model, split, Path(tmp), checks)
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        report["cuda_execution_provider"] = (
            "not checked: this onnxruntime build has no CUDAExecutionProvider "
            "(needs the onnxruntime-gpu wheel)")

    for name, check in checks.items():
        print(f"{'ok  ' if check['ok'] else 'FAIL'} {name}: "
              f"{json.dumps({k: v for k, v in check.items() if k != 'ok'})}")
    args.json.write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k != "checks"}))
    return 0 if all(c["ok"] for c in checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())

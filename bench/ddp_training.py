"""Data-parallel training (DDP under torchrun) against one process, on ML-1M.

Run: ``python bench/ddp_training.py [--epochs 2] [--repeats 1] [--configs 1x2,2x1,ddp1x2]``
(timing) and ``python bench/ddp_training.py --quality`` (the whole ``ml-1m`` preset on 2
ranks, evaluated like ``bench/quality_ml1m.py --configs ml-1m``).

Timing configs, run one after the other in alternating order so that both see the same
machine load (medians over all epochs of all repeats):

* ``1x2``: one process, 2 intra-op threads, no process group (the plain trainer);
* ``2x1``: ``torchrun --nproc-per-node 2``, 1 thread per rank (gloo);
* ``2x1-bf16``: the same with DDP's bfloat16 gradient compression hook;
* ``ddp1x2``: ``torchrun --nproc-per-node 1``, 2 threads: the DDP wrapper's overhead;
* ``1x1`` / ``ddp1x1``: the same overhead comparison on one thread (free of the stalls
  that a 2-thread process suffers on a machine shared with other jobs).

Each child trains the ``ml-1m`` preset (item prior off: it is fitted after training and does
not change epoch time) for ``--epochs`` epochs on the leave-one-out training rows with
per-epoch validation, and reports the epoch times (training + validation) and the bytes
of gradients DDP all-reduces per step. Falls back to a synthetic ML-1M-sized table when
``../shared/data`` is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ML1M, machine, today  # noqa: E402

CONFIGS = {
    "1x2": {"ranks": None, "threads": 2, "env": {}},
    "2x1": {"ranks": 2, "threads": 1, "env": {}},
    "2x1-bf16": {"ranks": 2, "threads": 1, "env": {"SEQREC_DDP_COMPRESSION": "bf16"}},
    "ddp1x2": {"ranks": 1, "threads": 2, "env": {}},
    "1x1": {"ranks": None, "threads": 1, "env": {}},
    "ddp1x1": {"ranks": 1, "threads": 1, "env": {}},
}


def load_split(max_users: int | None = None):
    """Leave-one-out split of ML-1M (or a synthetic stand-in); ``max_users``: the first
    users only (a smaller run of the same data)."""
    import numpy as np
    from seqrec_trainer.evaluation import leave_one_out_split, load_sasrec_txt

    if ML1M.exists():
        table, source = load_sasrec_txt(ML1M), "MovieLens-1M (ml-1m.txt.gz)"
    else:
        from seqrec_trainer.datasets import make_sequential_interactions

        table = make_sequential_interactions(n_users=6040, n_items=3416, min_length=20,
                                             max_length=311, random_state=0)
        source = "SYNTHETIC ML-1M-sized stand-in"
    if max_users is not None:
        keep = np.isin(table["USER_ID"], np.unique(table["USER_ID"])[:max_users])
        table = {name: np.asarray(values)[keep] for name, values in table.items()}
        source += f", first {max_users} users"
    return leave_one_out_split(table), source


def worker(args: argparse.Namespace) -> None:
    """One rank (or the single process): train and report epoch times."""
    import torch
    from seqrec_trainer import (
        InteractionsDataset,
        SASRecClassifierEstimator,
        SequentialRecommender,
        SequentialScorer,
    )
    from seqrec_trainer.distributed import current_context, gradient_bytes, init_process_group
    from seqrec_trainer.distributed.context import compression, launched_by_torchrun

    torch.set_num_threads(args.threads)
    if launched_by_torchrun():
        init_process_group()
    split, source = load_split(args.max_users)
    estimator = SASRecClassifierEstimator.from_preset(
        "ml-1m", epochs=args.epochs, item_prior_weight=0.0, early_stopping_patience=None,
        random_state=0, verbose=0)
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=estimator.max_len)
    started = time.perf_counter()
    recommender.train(interactions_ds=InteractionsDataset(split.train),
                      valid_interactions_ds=InteractionsDataset(split.valid))
    context = current_context()
    if context is not None and not context.is_main:
        return
    network = estimator.network_
    steps = -(-recommender.training_summary_["n_train_sequences"] // estimator.batch_size)
    result = {
        "source": source,
        "world_size": 1 if context is None else context.world_size,
        "ddp": context is not None,
        "threads": args.threads,
        "precision": estimator.precision_,
        "epoch_s": [h["time_s"] for h in estimator.history_],
        "val_ndcg@10": [h["val_ndcg@10"] for h in estimator.history_],
        "steps_per_epoch": steps,
        "n_train_sequences": recommender.training_summary_["n_train_sequences"],
        "parameters": sum(p.numel() for p in network.parameters()),
        "allreduce_bytes_per_step": gradient_bytes(network, compression() == "bf16"),
        "wall_s": time.perf_counter() - started,
    }
    Path(args.result).write_text(json.dumps(result))


def quality_worker(args: argparse.Namespace) -> None:
    """The whole ``ml-1m`` preset on every rank, scored like bench/quality_ml1m.py."""
    import torch
    from quality_ml1m import run_config
    from seqrec_trainer.distributed import current_context, init_process_group

    torch.set_num_threads(args.threads)
    init_process_group()
    split, _ = load_split()
    row = run_config("ml-1m", split, {}, target=0.18)
    if current_context().is_main:
        Path(args.result).write_text(json.dumps(row))


def run_child(config: str, epochs: int, result: Path, extra: list[str] | None = None,
              timeout_s: float = 3600, max_users: int | None = None) -> dict:
    spec = CONFIGS[config]
    script = [str(Path(__file__).resolve()), "--worker", "--threads", str(spec["threads"]),
              "--epochs", str(epochs), "--result", str(result), *(extra or [])]
    if max_users is not None:
        script += ["--max-users", str(max_users)]
    if spec["ranks"] is None:
        command = [sys.executable, *script]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   "--nproc-per-node", str(spec["ranks"]), *script]
    env = {**os.environ, "OMP_NUM_THREADS": str(spec["threads"]), **spec["env"]}
    subprocess.run(command, env=env, check=True, timeout=timeout_s)
    return json.loads(result.read_text())


def timing(args: argparse.Namespace) -> None:
    configs = args.configs.split(",")
    runs: dict[str, list[dict]] = {name: [] for name in configs}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            order = configs if repeat % 2 == 0 else configs[::-1]
            for name in order:
                result = run_child(name, args.epochs, Path(tmp) / f"{name}-{repeat}.json",
                                   max_users=args.max_users)
                runs[name].append(result)
                print(json.dumps({"config": name, "repeat": repeat, **result}), flush=True)
    base = statistics.median([s for r in runs[configs[0]] for s in r["epoch_s"]])
    first = runs[configs[0]][0]
    lines = [
        f"{today()}, {machine()}; {first['source']}, `ml-1m` preset (item prior off), "
        f"{first['n_train_sequences']:,} training windows, {first['steps_per_epoch']} steps "
        f"of {128} windows per epoch, precision {first['precision']}; "
        f"{args.repeats} repeat(s) x {args.epochs} epochs per config, alternating order.",
        "",
        "| config | processes x threads | median epoch (s) | min-max (s) | vs "
        f"`{configs[0]}` | all-reduce per step |",
        "|---|---|---|---|---|---|",
    ]
    for name in configs:
        times = [s for r in runs[name] for s in r["epoch_s"]]
        r = runs[name][0]
        volume = f"{r['allreduce_bytes_per_step'] / 1e6:.2f} MB" if r["ddp"] else "-"
        lines.append(
            f"| `{name}` | {r['world_size']} x {r['threads']}{' (DDP)' if r['ddp'] else ''} | "
            f"{statistics.median(times):.1f} | {min(times):.1f}-{max(times):.1f} | "
            f"{statistics.median(times) / base:.2f}x | {volume} |")
    for name in configs[1:]:  # same-repeat pairs: both ran under the same load
        pairs = [statistics.median(r["epoch_s"]) / statistics.median(b["epoch_s"])
                 for r, b in zip(runs[name], runs[configs[0]], strict=True)]
        lines.append(f"\n`{name}` / `{configs[0]}` per repeat: "
                     + ", ".join(f"{ratio:.2f}x" for ratio in pairs)
                     + f" (median {statistics.median(pairs):.2f}x)")
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))


#: Assumptions of the on-paper projection (``--projection``); change them to your hardware.
PROJECTION = {
    "interactions": 100_000_000, "users": 1_000_000, "items": 1_000_000, "gpus": 8,
    "windows": 1_200_000,  # history_windows="all", max_len 200: ~1 per user + long users
    "num_negatives": 1000,  # sampled_softmax negatives shared by a batch
    "nvlink_bus_GBps": 350.0,  # NCCL all-reduce bus bandwidth, 8 GPUs in one NVLink node
    "internode_bus_GBps": 50.0,  # 400 Gb/s between nodes
    "hbm_GBps": 2500.0,  # effective HBM bandwidth for the optimizer update
    "effective_TFLOPs": 100.0,  # per GPU on these small (d=128) matrices
    "fixed_step_ms": 2.0,  # kernel launches + host-side packing of one step
}


def projection() -> None:
    """Epoch time of the ml-1m architecture on 8 GPUs for a 100M-interaction, 1M-item
    table with sampled_softmax: arithmetic from the model's real parameter count."""
    from seqrec_trainer import SASRecClassifierEstimator
    from seqrec_trainer.distributed import gradient_bytes

    p = PROJECTION
    ml1m = SASRecClassifierEstimator.from_preset("ml-1m").build_network(3416)
    print(f"ml-1m preset on ML-1M (3,416 items): "
          f"{sum(x.numel() for x in ml1m.parameters()):,} parameters, "
          f"all-reduce per step {gradient_bytes(ml1m) / 1e6:.2f} MB float32")
    estimator = SASRecClassifierEstimator.from_preset(
        "ml-1m", loss_fn_name="sampled_softmax", num_negatives=p["num_negatives"],
        item_prior_weight=0.0)
    network = estimator.build_network(p["items"])
    params = sum(x.numel() for x in network.parameters())
    volume = gradient_bytes(network)
    d, blocks, length = estimator.hidden_units, estimator.num_blocks, estimator.max_len / 2
    flop_per_target = 3 * 2 * (blocks * (6 * d * d + 2 * length * d) + p["num_negatives"] * d)
    compute_s = p["interactions"] * flop_per_target / (p["gpus"] * p["effective_TFLOPs"] * 1e12)
    ring = 2 * (p["gpus"] - 1) / p["gpus"] * volume  # bytes each GPU sends per all-reduce
    adam_ms = 28 * params / (p["hbm_GBps"] * 1e9) * 1e3  # read p, g, m, v; write p, m, v
    print(f"parameters {params:,} (item table {network.item_embedding.weight.numel():,}); "
          f"all-reduce per step {volume / 1e6:.0f} MB float32, {volume / 2e6:.0f} MB bf16")
    print(f"compute per epoch (every interaction a target once): {compute_s:.2f} s on "
          f"{p['gpus']} GPUs at {p['effective_TFLOPs']:g} TFLOP/s each")
    print("| global batch | steps/epoch | link | all-reduce ms | Adam ms | fixed ms | epoch |")
    print("|---|---|---|---|---|---|---|")
    for batch in (128, 1024):
        steps = -(-p["windows"] // batch)
        for link, bandwidth in (("NVLink, 1 node", p["nvlink_bus_GBps"]),
                                ("2 nodes, 400 Gb/s", p["internode_bus_GBps"])):
            reduce_ms = ring / (bandwidth * 1e9) * 1e3
            step_ms = reduce_ms + adam_ms + p["fixed_step_ms"]
            epoch_s = steps * step_ms / 1e3 + compute_s
            print(f"| {batch} | {steps:,} | {link} | {reduce_ms:.1f} | {adam_ms:.1f} | "
                  f"{p['fixed_step_ms']:.1f} | {epoch_s:.0f} s |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--configs", default="1x2,2x1,ddp1x2")
    parser.add_argument("--json", help="write every run's figures here")
    parser.add_argument("--max-users", type=int, default=None,
                        help="train on the first N users only (a shorter run)")
    parser.add_argument("--quality", action="store_true",
                        help="train the whole ml-1m preset on 2 ranks and evaluate it")
    parser.add_argument("--projection", action="store_true",
                        help="print the on-paper 8-GPU projection (no training)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--quality-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.projection:
        projection()
    elif args.worker:
        worker(args)
    elif args.quality_worker:
        quality_worker(args)
    elif args.quality:
        result = Path(args.json or "ddp_quality.json").resolve()
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   "--nproc-per-node", "2", str(Path(__file__).resolve()), "--quality-worker",
                   "--threads", "1", "--result", str(result)]
        subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, check=True)
        row = json.loads(result.read_text())
        print(json.dumps({k: row[k] for k in ("full", "sampled", "epochs_run", "best_epoch",
                                             "wall_s")}))
    else:
        timing(args)


if __name__ == "__main__":
    main()

"""Training throughput on ML-1M: epoch time and sequences/s, seqrec vs scikit-rec 0.4.2.

Config (both libraries): max_len 200, hidden 50, 2 blocks, 1 head, batch 128, dropout 0.2,
Adam lr 1e-3, BCE with 1 sampled negative, no validation; plus seqrec's full softmax
(``loss_fn_name="ce"``). Each library trains N epochs in its own fresh process through its
public ``train()`` on the same parquet file; per-epoch wall times are taken from the
epoch's shuffle to the end of its last optimizer step (seqrec: ``history_[i]["time_s"]``;
scikit-rec: its per-epoch ``np.random.shuffle`` call, see ``bench/peers/skrec_train.py``).
Data loading (reading the file) and the work ``train()`` does outside the epochs
(sequence building, vocabulary, tensors, model init) are reported separately.

Run: ``python bench/train_throughput.py [--quick] [--write]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    RESULTS,
    command_line,
    emit,
    finish,
    fmt_num,
    fmt_stat,
    header,
    md_table,
    ml1m_table,
    peer_cmd,
    run_json,
    stats,
    suite_parser,
    write_parquet,
)

CONFIG = {"max_len": 200, "hidden": 50, "blocks": 2, "heads": 1, "batch": 128, "dropout": 0.2}
TARGET = 0.5  # seqrec epoch time <= 0.5x scikit-rec's


def child(data: str, epochs: int, loss: str) -> None:
    import torch
    from seqrec_trainer import (
        InteractionsDataset,
        SASRecClassifierEstimator,
        SequentialRecommender,
        SequentialScorer,
    )

    started = time.perf_counter()
    dataset = InteractionsDataset(data)
    read_s = time.perf_counter() - started
    estimator = SASRecClassifierEstimator(
        hidden_units=CONFIG["hidden"], num_blocks=CONFIG["blocks"], num_heads=CONFIG["heads"],
        dropout_rate=CONFIG["dropout"], num_negatives=1, max_len=CONFIG["max_len"],
        learning_rate=0.001, epochs=epochs, batch_size=CONFIG["batch"], loss_fn_name=loss,
        random_state=0,
    )
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=CONFIG["max_len"])
    started = time.perf_counter()
    recommender.train(interactions_ds=dataset)
    train_s = time.perf_counter() - started
    epoch_s = [h["time_s"] for h in estimator.history_]
    summary = recommender.training_summary_
    emit({
        "epoch_s": epoch_s, "train_s": train_s, "outside_epochs_s": train_s - sum(epoch_s),
        "read_s": read_s, "n_rows": len(dataset), "n_sequences": summary["n_train_sequences"],
        "n_items": summary["n_items"], "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    })


def profile_child(data: str) -> None:
    """torch.profiler over one seqrec BCE epoch of a small table (public API only)."""
    from seqrec_trainer import (
        InteractionsDataset,
        SASRecClassifierEstimator,
        SequentialRecommender,
        SequentialScorer,
    )
    from torch.profiler import ProfilerActivity, profile

    dataset = InteractionsDataset(data)
    estimator = SASRecClassifierEstimator(
        hidden_units=CONFIG["hidden"], num_blocks=CONFIG["blocks"], num_heads=CONFIG["heads"],
        dropout_rate=CONFIG["dropout"], num_negatives=1, max_len=CONFIG["max_len"],
        learning_rate=0.001, epochs=1, batch_size=CONFIG["batch"], random_state=0,
    )
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=CONFIG["max_len"])
    recommender.train(interactions_ds=dataset)  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        recommender.train(interactions_ds=dataset)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    top = sorted(events, key=lambda e: -e.self_cpu_time_total)[:10]
    emit({"total_s": total / 1e6, "top": [
        {"op": e.key, "self_s": e.self_cpu_time_total / 1e6, "share": e.self_cpu_time_total / total,
         "calls": e.count} for e in top]})


def kernels_child(repeats: int) -> None:
    """Side-by-side forward + backward timings of the CPU kernels seqrec replaces.

    Loss: full-softmax CE on one ML-1M-sized batch (13,800 targets x 3,416 items x hidden
    64), ``F.cross_entropy(h @ items.T)`` vs ``full_softmax_cross_entropy``. Dropout: one
    ``(128, 200, 64)`` activation (a batch at max_len 200), ``nn.Dropout`` vs
    ``FastDropout``. Step: one training step's loss + backward of the ``ml-1m`` preset's
    network (hidden 128, 3 blocks, full CE) on a full ``(128, 201)`` batch, float32 vs
    ``precision="bf16"``. Packing: the same bf16 step on 128 windows drawn at random from
    ML-1M's ``history_windows="all"`` windows (the preset's batches; a new draw each
    repeat, shared by both methods), left-padded rows vs ``pack_sequences=True``. Methods
    alternate within each repeat; the first repeat is a warm-up.
    """
    import torch
    import torch.nn.functional as F
    from seqrec_trainer import SASRecClassifierEstimator
    from seqrec_trainer.estimator.full_softmax import full_softmax_cross_entropy
    from seqrec_trainer.estimator.losses import ce_loss
    from seqrec_trainer.estimator.packing import pack_windows
    from seqrec_trainer.estimator.training import training_step_loss
    from seqrec_trainer.model.dropout import FastDropout

    gen = torch.Generator().manual_seed(0)
    m, n_items, d = 13_800, 3_416, 64
    h = torch.randn(m, d, generator=gen).requires_grad_()
    items = (0.2 * torch.randn(n_items, d, generator=gen)).requires_grad_()
    targets = torch.randint(0, n_items, (m,), generator=gen)
    weights = torch.full((m,), 1.0 / m)
    x = torch.randn(128, 200, d, generator=gen).requires_grad_()
    torch_dropout, fast_dropout = torch.nn.Dropout(0.2).train(), FastDropout(0.2).train()
    torch.manual_seed(0)
    network = SASRecClassifierEstimator.from_preset("ml-1m").build_network(n_items).train()
    seqs = torch.randint(1, n_items + 1, (128, 201), generator=gen)
    windows = ml1m_windows(max_len=200)
    drawn = {"batch": None}

    def window_step(pack: bool):
        if pack is False:  # first of the pair: a fresh batch for both
            rows = torch.randint(0, len(windows), (128,), generator=gen)
            drawn["batch"] = torch.as_tensor(windows)[rows]
        return training_step_loss(network, drawn["batch"], None, ce_loss, {}, torch.bfloat16,
                                  pack)

    methods = {
        "loss: F.cross_entropy": lambda: F.cross_entropy(h @ items.T, targets),
        "loss: chunked": lambda: full_softmax_cross_entropy(h, items, targets, weights),
        "dropout: nn.Dropout": lambda: torch_dropout(x).sum(),
        "dropout: FastDropout": lambda: fast_dropout(x).sum(),
        "step: float32": lambda: training_step_loss(network, seqs, None, ce_loss, {}),
        "step: bf16": lambda: training_step_loss(network, seqs, None, ce_loss, {},
                                                 torch.bfloat16),
        "windows: left-padded": lambda: window_step(False),
        "windows: packed": lambda: window_step(True),
    }
    times: dict[str, list[float]] = {name: [] for name in methods}
    packed_rows: list[int] = []
    for _ in range(repeats + 1):
        for name, fn in methods.items():
            h.grad = items.grad = x.grad = None
            network.zero_grad(set_to_none=True)
            started = time.perf_counter()
            fn().backward()
            times[name].append(time.perf_counter() - started)
        packed_rows.append(pack_windows(drawn["batch"]).inputs.shape[0])
    pairs = (windows[:, :-1] != 0) & (windows[:, 1:] != 0)
    emit({**{name: t[1:] for name, t in times.items()},
          "windows_padding_share": float(1.0 - pairs.mean()), "windows_packed_rows": packed_rows})


def ml1m_windows(max_len: int):
    """ML-1M (or its synthetic stand-in) cut into ``history_windows="all"`` training rows."""
    import numpy as np
    from seqrec_trainer.data.windows import all_windows

    table, _ = ml1m_table()
    order = np.lexsort((table["TIMESTAMP"], table["USER_ID"]))
    _, users = np.unique(table["USER_ID"][order], return_inverse=True)
    _, items = np.unique(table["ITEM_ID"][order], return_inverse=True)
    windows, _ = all_windows(users.reshape(-1), items.reshape(-1) + 1, max_len + 1)
    return windows


def targets_per_epoch(table: dict, max_len: int) -> int:
    """(input, next item) pairs per epoch: min(n, max_len + 1) - 1 per user."""
    import numpy as np

    _, counts = np.unique(table["USER_ID"], return_counts=True)
    return int((np.minimum(counts, max_len + 1) - 1).clip(min=0).sum())


def render(runs: dict, command: str, quick: bool, source: str, epochs: dict,
           targets: int) -> str:
    counts = ", ".join(f"{k}: {v}" for k, v in epochs.items())
    lines = header(
        "Training throughput (ML-1M, max_len 200, hidden 50, 2 blocks, batch 128)", command,
        quick, f"Each run trains N epochs in a fresh process ({counts}), one after the other; "
        "per-epoch wall time, median (min–max) over the epochs.",
    )
    peer = runs.get("skrec_bce")
    peer_med = stats(peer["epoch_s"])["median"] if peer else None
    lines += ["", f"Data: {source}. {targets:,} training targets (input, next item) per epoch.",
              ""]
    head = ["library / loss", "epoch time [s]", "sequences/s", "targets/s", "× scikit-rec epoch",
            "read file [s]", "train() outside epochs [s]", "target / met?"]
    labels = {"seqrec_bce": "seqrec, BCE (1 negative)",
              "skrec_bce": "scikit-rec 0.4.2, BCE (1 negative)",
              "seqrec_ce": "seqrec, full softmax CE"}
    rows = []
    for key, label in labels.items():
        if key not in runs:
            continue
        r = runs[key]
        s = stats(r["epoch_s"])
        seq_s = stats([r["n_sequences"] / e for e in r["epoch_s"]])
        tgt_s = stats([targets / e for e in r["epoch_s"]])
        rel = s["median"] / peer_med if peer_med else float("nan")
        if key == "seqrec_bce" and peer_med:
            miss = f"✗ {rel:.2f}× ({rel / TARGET:.1f}× over)"
            target = f"≤ 0.5×: {'✓' if rel <= TARGET else miss}"
        else:
            target = "—"
        rows.append([label, fmt_stat(s), fmt_stat(seq_s), fmt_stat(tgt_s),
                     f"{rel:.2f}×" if key != "skrec_bce" and peer_med else
                     ("1× (baseline)" if key == "skrec_bce" else "n/a"),
                     fmt_num(r["read_s"]), fmt_num(r["outside_epochs_s"]), target])
    lines += md_table(head, rows)
    any_run = next(iter(runs.values()))
    lines += ["", f"torch {any_run['torch']} with {any_run['torch_threads']} threads in both venvs "
              "(defaults). Both libraries feed every position that has a real input and a real "
              "next item as a target, one sequence (last 201 items) per user."]
    return "\n".join(lines)


def render_kernel(kernel: dict) -> str:
    lines = [
        "", "", "Kernels seqrec replaces on CPU, forward + backward, side by side (methods "
        f"alternating, median (min–max) of {len(kernel['loss: chunked'])} repeats; "
        "`python bench/train_throughput.py`, same run):", "",
    ]
    rows = []
    for what, (ref, ours) in {
        "full-softmax loss, 13,800 targets × 3,416 items × 64": (
            "loss: F.cross_entropy", "loss: chunked"),
        "dropout 0.2 on a (128, 200, 64) activation": (
            "dropout: nn.Dropout", "dropout: FastDropout"),
        "`ml-1m` preset training step (128 × 200, hidden 128, 3 blocks, CE), "
        "`precision=\"bf16\"`": ("step: float32", "step: bf16"),
        "`ml-1m` preset step (bf16) on 128 random ML-1M windows (`history_windows=\"all\"`), "
        "`pack_sequences=True`": ("windows: left-padded", "windows: packed"),
    }.items():
        ratio = stats([r / o for r, o in zip(kernel[ref], kernel[ours], strict=True)])
        rows.append([what, f"`{ref.split(': ')[1]}` {fmt_stat(stats(kernel[ref]), 1e3)} ms",
                     f"`{ours.split(': ')[1]}` {fmt_stat(stats(kernel[ours]), 1e3)} ms",
                     f"{ratio['median']:.2f}× ({ratio['min']:.2f}–{ratio['max']:.2f})"])
    lines += md_table(["kernel", "torch", "seqrec", "speed-up (per repeat)"], rows)
    from seqrec_trainer.estimator.full_softmax import CHUNK_BYTES

    lines += ["", f"The chunked loss keeps each ~{CHUNK_BYTES / 2**20:g} MiB slice of logits in "
              "cache and recomputes it "
              "in the backward pass (`seqrec_trainer/estimator/full_softmax.py`); FastDropout "
              "draws random bits in bulk and multiplies by a float mask "
              "(`seqrec_trainer/model/dropout.py`). Both are what the seqrec rows above run. "
              "`precision=\"bf16\"` (opt-in) runs the transformer blocks under bfloat16 "
              "autocast; the loss head stays float32. `pack_sequences=True` (the default) "
              "packs a batch's windows side by side into fewer rows so the encoder skips most "
              "padding (`seqrec_trainer/estimator/packing.py`): "
              f"{kernel['windows_padding_share']:.0%} of the windows' input positions are "
              "padding, and a batch of 128 windows packs into a median of "
              f"{stats(kernel['windows_packed_rows'])['median']:.0f} rows "
              f"({min(kernel['windows_packed_rows'])}–{max(kernel['windows_packed_rows'])})."]
    return "\n".join(lines)


def main() -> int:
    parser = suite_parser(__doc__, "first 150 users, 2 epochs")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--skip", default="", help="comma list of seqrec_bce,skrec_bce,seqrec_ce")
    parser.add_argument("--no-profile", action="store_true",
                        help="skip the torch.profiler breakdown of a seqrec epoch")
    parser.add_argument("--child", nargs=3, metavar=("DATA", "EPOCHS", "LOSS"), help="internal")
    parser.add_argument("--profile-child", metavar="DATA", help="internal")
    parser.add_argument("--kernels-child", type=int, metavar="REPEATS", help="internal")
    args = parser.parse_args()
    if args.kernels_child:
        kernels_child(args.kernels_child)
        return 0
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2])
        return 0
    if args.profile_child:
        profile_child(args.profile_child)
        return 0
    quick = args.quick
    # 5 epochs for the BCE pair (the target), 3 for the slower full-softmax row
    epochs = {"seqrec_bce": 2, "skrec_bce": 2, "seqrec_ce": 2} if quick else \
        {"seqrec_bce": 5, "skrec_bce": 5, "seqrec_ce": 3}
    if args.epochs:
        epochs = dict.fromkeys(epochs, args.epochs)
    write = args.write or not (quick or args.no_write)
    table, source = ml1m_table(max_users=150 if quick else None)
    data = write_parquet(table, RESULTS / "cache" / f"train_{'quick' if quick else 'full'}.parquet")
    me = [sys.executable, str(Path(__file__).resolve())]
    skip = set(filter(None, args.skip.split(",")))
    runs = {}
    for key in ("seqrec_bce", "skrec_bce", "seqrec_ce"):
        if key in skip:
            continue
        if key == "skrec_bce":
            cmd = peer_cmd("skrec_train.py", "--data", str(data), "--epochs", str(epochs[key]),
                           *[x for k, v in CONFIG.items()
                             for x in (f"--{k.replace('_', '-')}", str(v))])
        else:
            cmd = me + ["--child", str(data), str(epochs[key]), key.split("_")[1]]
        runs[key] = run_json(cmd)
        print(f"{key}: epochs {[round(e, 2) for e in runs[key]['epoch_s']]} s", flush=True)
    profile = None
    if not (quick or args.no_profile):
        small, _ = ml1m_table(max_users=640)
        small_path = write_parquet(small, RESULTS / "cache" / "train_profile.parquet")
        profile = run_json(me + ["--profile-child", str(small_path)])
    kernel = run_json(me + ["--kernels-child", "3" if quick else "9"])
    command = command_line("train_throughput.py", sys.argv[1:])
    targets = targets_per_epoch(table, CONFIG["max_len"])
    body = render(runs, command, quick, source, epochs, targets) + render_kernel(kernel)
    if profile:
        ops = ", ".join(f"`{t['op']}` {t['share']:.0%}" for t in profile["top"][:8])
        body += ("\n\nWhere a seqrec BCE epoch goes (torch.profiler, self CPU time, one epoch on "
                 f"the first 640 users = 5 batches): {ops}.")
    finish("train_throughput", quick, write, body,
           {"config": CONFIG, "epochs": epochs, "data": source, "targets_per_epoch": targets,
            "runs": runs, "profile": profile, "kernels": kernel})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

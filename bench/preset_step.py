"""Where the ``ml-1m`` preset's CPU time goes, and what the obvious speed-ups buy here.

One training step of the preset (hidden 128, 3 blocks, max_len 200, full-softmax CE,
``pack_sequences=True``, batch 128) on windows drawn at random from ML-1M's
``history_windows="all"`` rows (or the labelled synthetic stand-in), forward + backward,
timed side by side in one process. Variants, alternated within each repeat on the same
batch (a new draw each repeat; the first repeat is a warm-up):

- ``shipped``: what ``precision="auto"`` trains with on this CPU (float32 unless the CPU
  computes bfloat16 natively), eager, loss chunks of ``CHUNK_BYTES``;
- ``loss chunks /2`` / ``x2``: the chunked full-softmax loss with 2x smaller / bigger
  chunks (``/2`` is what seqrec shipped before this benchmark);
- ``torch.compile``: the encoder compiled by inductor (``dynamic=True``: packed batches
  change shape); its one-off compile time is reported separately;
- ``bf16 autocast``: the encoder under bfloat16 autocast (emulated on CPUs without
  AVX512-BF16/AMX).

The projection multiplies the median step by the preset's steps per epoch and 30 epochs
(per-epoch validation not included). Run: ``python bench/preset_step.py [--quick] [--write]``.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ML1M,
    command_line,
    finish,
    fmt_stat,
    header,
    md_table,
    stats,
    suite_parser,
)
from train_throughput import ml1m_windows  # noqa: E402

EPOCHS = 30  # the ml-1m preset's epochs


def measure(repeats: int, compile_encoder: bool) -> dict:
    import torch
    from seqrec_trainer import SASRecClassifierEstimator
    from seqrec_trainer.estimator import full_softmax
    from seqrec_trainer.estimator.losses import ce_loss
    from seqrec_trainer.estimator.precision import native_bf16, resolve_precision
    from seqrec_trainer.estimator.training import training_step_loss

    cpu = torch.device("cpu")
    shipped_precision = resolve_precision("auto", cpu)
    shipped_dtype = torch.bfloat16 if shipped_precision == "bf16" else None
    windows = torch.as_tensor(ml1m_windows(max_len=200))
    batch_size = 128
    torch.manual_seed(0)
    network = SASRecClassifierEstimator.from_preset("ml-1m").build_network(
        int(windows.max())).train()
    eager = network.encode
    base_chunk = full_softmax.CHUNK_BYTES
    variants: dict[str, dict] = {
        "shipped": {},
        "loss chunks /2": {"chunk": base_chunk // 2},
        "loss chunks x2": {"chunk": 2 * base_chunk},
        "bf16 autocast": {"dtype": torch.bfloat16},
    }
    compile_s = None
    if compile_encoder:
        variants["torch.compile"] = {"compiled": True}
        compiled = torch.compile(eager, dynamic=True)
    gen = torch.Generator().manual_seed(0)
    times: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for repeat in range(repeats + 1):
            batch = windows[torch.randint(0, len(windows), (batch_size,), generator=gen)]
            for name, spec in variants.items():
                full_softmax.CHUNK_BYTES = spec.get("chunk", base_chunk)
                network.encode = compiled if spec.get("compiled") else eager
                dtype = spec.get("dtype", shipped_dtype)
                network.zero_grad(set_to_none=True)
                started = time.perf_counter()
                training_step_loss(network, batch, None, ce_loss, {}, dtype, True).backward()
                elapsed = time.perf_counter() - started
                if repeat == 0:
                    if spec.get("compiled"):
                        compile_s = elapsed
                    continue
                times[name].append(elapsed)
    finally:
        full_softmax.CHUNK_BYTES = base_chunk
        network.encode = eager
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        training_step_loss(network, batch, None, ce_loss, {}, shipped_dtype, True).backward()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    top = [{"op": e.key, "share": e.self_cpu_time_total / total}
           for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[:6]]
    source = ("MovieLens-1M windows" if ML1M.exists() else
              f"SYNTHETIC stand-in windows (ML-1M not found at {ML1M})")
    return {
        "source": source, "profile_top": top,
        "times": times, "compile_s": compile_s, "shipped_precision": shipped_precision,
        "native_bf16": native_bf16(cpu), "chunk_bytes": base_chunk,
        "steps_per_epoch": math.ceil(len(windows) / batch_size), "n_windows": len(windows),
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }


def render(result: dict, command: str, quick: bool, repeats: int) -> str:
    shipped = stats(result["times"]["shipped"])["median"]
    steps = result["steps_per_epoch"]
    rows = []
    for name, values in result["times"].items():
        s = stats(values)
        rows.append([f"`{name}`", fmt_stat(s, digits=3, unit=" s"),
                     f"{s['median'] / shipped:.2f}×",
                     f"{s['median'] * steps * EPOCHS / 60:.1f} min"])
    lines = header(
        "The ml-1m preset's training step on this CPU: what the usual speed-ups buy", command,
        quick, f"One packed step (batch 128, forward + backward) of the `ml-1m` preset, "
        f"{repeats} repeats after a warm-up, variants alternated on the same batch; "
        "median (min–max).",
    )
    lines += ["", f"Data: {result['source']}.", "", *md_table(
        ["variant", "step", "vs shipped", f"{EPOCHS} epochs × {steps} steps"], rows), ""]
    compile_s = result["compile_s"]
    lines.append(
        f"This CPU: torch CPU capability `{result['cpu_capability']}`, "
        f"{result['threads']} threads, native bfloat16: {result['native_bf16']}, so "
        f"`precision=\"auto\"` trains in `{result['shipped_precision']}` (the `shipped` row). "
        f"Loss chunks: {result['chunk_bytes']:,} bytes of logits. "
        f"{result['n_windows']:,} windows = {steps} steps per epoch; the last column "
        "leaves out per-epoch validation and batching."
        + (f" `torch.compile`'s first (compiling) step took {compile_s:.0f} s."
           if compile_s is not None else " `torch.compile` was not timed (`--no-compile`).")
        + " Where one `shipped` step goes (torch.profiler, self CPU time, same run): "
        + ", ".join(f"`{t['op']}` {t['share']:.0%}" for t in result["profile_top"]) + ".")
    return "\n".join(lines)


def main() -> int:
    parser = suite_parser(__doc__, "3 repeats, no torch.compile")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile row")
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 15)
    result = measure(repeats, compile_encoder=not (args.quick or args.no_compile))
    command = command_line("preset_step.py", sys.argv[1:])
    write = args.write or not (args.quick or args.no_write)
    finish("preset_step", args.quick, write, render(result, command, args.quick, repeats),
           {"repeats": repeats, **result})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

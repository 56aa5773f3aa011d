"""Batch scoring on Spark and Ray Data, side by side with the single-process runtime.

``python bench/batch_engines.py``                 5M and 50M rows (writes docs/benchmarks)
``python bench/batch_engines.py --sizes 5000000`` one size
``python bench/batch_engines.py --quick``         200k rows, prints only

Data: ML-1M-shaped synthetic Parquet (users' history lengths drawn from ML-1M's, items from
ML-1M's popularity; a same-shaped stand-in when ../shared/data is absent), written in
chunks. Model: the shared ML-1M-sized SASRec artifact (``common.build_model``). Per size:

* single process: the runtime with one onnxruntime thread, on the same data streamed user
  by user (``user_batches``), as the per-core reference;
* Spark ``local[1]`` and ``local[2]``: the shuffle stage (read, repartition by user, sort;
  cached) and the scoring stage (``mapInArrow`` over the cached partitions) timed apart,
  plus the ``groupBy(bucket).applyInArrow`` strategy end to end against the sorted one;
* Ray Data with 1 and 2 scoring actors: shuffle (``repartition(keys, sort=True)``,
  materialized) and scoring timed apart;
* the peak RSS (VmHWM) of every Spark Python worker / Ray actor process, polled from /proc.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

DATA_DIR = common.RESULTS / "batch_engines"
SPARK_JVM = "org.apache.spark.deploy.SparkSubmit"  # the local-mode driver (= executor) JVM
CHUNK_USERS = 20_000
WARMUP_ROWS = 200_000  # starts the Python workers and warms the JVM's JIT before timing


# --------------------------------------------------------------------------- data
def ml1m_shape() -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """History lengths per user, item ids and item frequencies of ML-1M (or stand-in)."""
    table, source = common.ml1m_table()
    _, lengths = np.unique(table["USER_ID"], return_counts=True)
    items, counts = np.unique(table["ITEM_ID"], return_counts=True)
    return lengths, items, counts / counts.sum(), source


def write_data(n_rows: int, seed: int = 0) -> tuple[Path, int, int]:
    """ML-1M-shaped Parquet of at least ``n_rows`` rows (cached); path, rows, users."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = DATA_DIR / f"ml1m_shaped_{n_rows}.parquet"
    if path.exists():
        meta = pq.read_metadata(path)
        users = int(meta.metadata[b"users"])
        return path, meta.num_rows, users
    lengths, items, weights, _ = ml1m_shape()
    rng = np.random.default_rng(seed)
    per_user = rng.choice(lengths, size=int(n_rows / lengths.mean() * 1.1) + 10)
    per_user = per_user[: int(np.searchsorted(np.cumsum(per_user), n_rows)) + 1]
    users, rows = len(per_user), int(per_user.sum())
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([("USER_ID", pa.int64()), ("ITEM_ID", pa.int64()),
                        ("TIMESTAMP", pa.int64())], metadata={"users": str(users)})
    tmp = path.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, schema) as writer:
        for first in range(0, users, CHUNK_USERS):
            chunk = per_user[first : first + CHUNK_USERS]
            user_ids = np.repeat(np.arange(first, first + len(chunk)) * 7919 % 2**31, chunk)
            starts = np.repeat(np.cumsum(chunk) - chunk, chunk)
            positions = np.arange(int(chunk.sum())) - starts
            writer.write_table(pa.table({
                "USER_ID": user_ids,
                "ITEM_ID": rng.choice(items, size=len(user_ids), p=weights),
                "TIMESTAMP": 1_000_000_000 + positions * 60,
            }, schema=schema))
    tmp.rename(path)
    return path, rows, users


# --------------------------------------------------------------------------- memory
class WorkerPeaks:
    """Poll /proc for processes whose command line contains one of ``markers``.

    Keeps each process's peak RSS (VmHWM) and the CPU seconds (user + system) it used
    while watched: from its first sample, or from 0 for a process that started meanwhile.
    """

    def __init__(self, *markers: str, period: float = 0.25) -> None:
        self.markers, self.period = [m.encode() for m in markers], period
        self.peaks: dict[str, int] = {}
        self.cpu_first: dict[str, float] = {}
        self.cpu_last: dict[str, float] = {}
        self._tick = os.sysconf("SC_CLK_TCK")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _sample(self, initial: bool = False) -> None:
        for pid in (p for p in os.listdir("/proc") if p.isdigit()):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    cmdline = fh.read()
                if not any(marker in cmdline for marker in self.markers):
                    continue
                with open(f"/proc/{pid}/status", encoding="ascii") as fh:
                    kib = next(int(ln.split()[1]) for ln in fh if ln.startswith("VmHWM"))
                with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                cpu = (int(fields[11]) + int(fields[12])) / self._tick
            except (OSError, StopIteration, ValueError, IndexError):
                continue
            self.peaks[pid] = max(self.peaks.get(pid, 0), kib * 1024)
            self.cpu_first.setdefault(pid, cpu if initial else 0.0)
            self.cpu_last[pid] = cpu

    def _poll(self) -> None:
        while not self._stop.wait(self.period):
            self._sample()

    def __enter__(self) -> WorkerPeaks:
        self._sample(initial=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def max(self, marker: str | None = None) -> int:
        return max(self.peaks.values(), default=0)

    def cpu_seconds(self) -> float:
        """CPU seconds the watched processes used (a process that ended early is cut off
        at its last sample, at most ``period`` before it ended)."""
        return sum(self.cpu_last[pid] - self.cpu_first[pid] for pid in self.cpu_last)


# --------------------------------------------------------------------------- single process
def single_process(path: Path, artifact: str, max_rows: int) -> dict:
    """Users/s of the runtime with one thread, streaming whole users from the Parquet."""
    import pyarrow.parquet as pq
    import seqrec_runtime
    from seqrec_runtime.user_batches import ScoringRequest, complete_user_tables, recommend_table

    runtime = seqrec_runtime.load(artifact, providers=["CPUExecutionProvider"],
                                  intra_op_num_threads=1)
    request = ScoringRequest(top_k=10, exclude_seen=True)
    users = rows = 0
    batches = pq.ParquetFile(path).iter_batches(batch_size=10_000)
    with common.PeakMemory() as score_mem:
        started, cpu_started = time.perf_counter(), time.process_time()
        for table in complete_user_tables(batches, "USER_ID"):
            users += recommend_table(runtime, table, request).num_rows
            rows += table.num_rows
            if rows >= max_rows:
                break
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    return {"users": users, "rows": rows, "seconds": seconds, "users_per_s": users / seconds,
            "cpu_s": cpu, "users_per_cpu_s": users / cpu,
            "model_load_rss": model_rss(artifact), "scoring_extra_rss": score_mem.extra}


def model_rss(artifact: str) -> int:
    """RSS a fresh process gains by loading the artifact (after importing the runtime)."""
    code = ("import sys, seqrec_runtime; sys.path.insert(0, 'bench'); import common; "
            "before = common.rss_bytes(); "
            "rt = seqrec_runtime.load(sys.argv[1], providers=['CPUExecutionProvider'], "
            "intra_op_num_threads=1); print(common.rss_bytes() - before)")
    done = subprocess.run([sys.executable, "-c", code, artifact], capture_output=True,
                          text=True, cwd=common.ROOT, timeout=300, check=True)
    return int(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- Spark
def spark_session(master: str):
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    spark = (SparkSession.builder.master(master).appName("seqrec batch_engines")
             .config("spark.ui.enabled", "false")
             .config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.memory", "8g")
             .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def spark_run(master: str, path: Path, artifact: str, partitions: int, grouped: bool) -> dict:
    """Shuffle and scoring stages of the sorted strategy (and grouped end to end)."""
    from pyspark import StorageLevel
    from seqrec_runtime import spark as seqrec_spark

    spark = spark_session(master)
    try:
        df = spark.read.parquet(str(path))
        args = dict(top_k=10, exclude_seen=True, sampling_temperature=None, random_state=None,
                    user_col="USER_ID", item_col="ITEM_ID", time_col="TIMESTAMP")
        rows, job, runtime = seqrec_spark._prepare(df, artifact, args, partitions, None, None,
                                                   False, 64, "sorted", "recommend")
        schema = seqrec_spark.recommend(df, artifact, top_k=10).schema
        cores = spark.sparkContext.defaultParallelism
        warm = seqrec_spark.recommend(df.limit(WARMUP_ROWS), artifact, top_k=10,
                                      num_partitions=2 * cores)
        warmup_s, _ = common.timed(lambda: warm.write.format("noop").mode("overwrite").save())
        shuffle_s, _ = common.timed(lambda: rows.persist(StorageLevel.MEMORY_AND_DISK).count())
        with WorkerPeaks("pyspark.daemon") as peaks, WorkerPeaks(SPARK_JVM) as jvm:
            scoring_s, _ = common.timed(lambda: seqrec_spark._run(rows, job, schema, "sorted")
                                        .write.format("noop").mode("overwrite").save())
        rows.unpersist()
        out = {"warmup_s": warmup_s, "shuffle_s": shuffle_s, "scoring_s": scoring_s,
               "worker_peak_rss": peaks.max(), "workers": len(peaks.peaks),
               "python_cpu_s": peaks.cpu_seconds(), "engine_cpu_s": jvm.cpu_seconds()}
        if grouped:
            for strategy in ("sorted", "grouped"):
                result = seqrec_spark.recommend(df, artifact, top_k=10, strategy=strategy,
                                                num_partitions=partitions)
                with WorkerPeaks("pyspark.daemon") as peaks:
                    seconds, _ = common.timed(lambda r=result: r.write.format("noop")
                                              .mode("overwrite").save())
                out[f"{strategy}_end_to_end_s"] = seconds
                out[f"{strategy}_worker_peak_rss"] = peaks.max()
        return out
    finally:
        spark.stop()


# --------------------------------------------------------------------------- Ray
def ray_run(path: Path, artifact: str, actors: int, blocks: int) -> dict:
    import ray
    import ray.data
    from seqrec_runtime.engine_checks import load_artifact, make_request
    from seqrec_runtime.ray import BatchRecommender

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        runtime, sha256 = load_artifact(artifact)
        request = make_request(runtime, 10, True, None, None, "USER_ID", "ITEM_ID", "TIMESTAMP")
        ds = ray.data.read_parquet(str(path))
        shuffle_s, shuffled = common.timed(
            lambda: ds.repartition(blocks, keys=["USER_ID"], sort=True).materialize())
        scored = shuffled.map_batches(
            BatchRecommender, batch_size=None, batch_format="pyarrow", concurrency=actors,
            num_cpus=1, fn_constructor_kwargs=dict(artifact=artifact, request=request,
                                                   sha256=sha256, threads=1))
        with WorkerPeaks("BatchRecommender") as peaks, WorkerPeaks("raylet") as raylet:
            scoring_s, users = common.timed(lambda: scored.count())
        return {"shuffle_s": shuffle_s, "scoring_s": scoring_s, "users": users,
                "worker_peak_rss": peaks.max(), "workers": len(peaks.peaks),
                "python_cpu_s": peaks.cpu_seconds(), "engine_cpu_s": raylet.cpu_seconds()}
    finally:
        ray.shutdown()


# --------------------------------------------------------------------------- report
def run_size(n_rows: int, artifact: str, baseline_rows: int, engines: set[str],
             spark_cores: list[int], ray_actors: list[int], grouped: bool) -> dict:
    path, rows, users = write_data(n_rows)
    print(f"== {rows:,} rows, {users:,} users: {path}", flush=True)
    result = {"rows": rows, "users": users,
              "single": single_process(path, artifact, baseline_rows)}
    print("single", result["single"], flush=True)
    partitions = max(8, 2 * round(rows / 1_000_000))  # even: both cores busy to the end
    if "spark" in engines:
        for cores in spark_cores:
            result[f"spark_{cores}"] = spark_run(f"local[{cores}]", path, artifact, partitions,
                                                 grouped=grouped and cores == max(spark_cores))
            print(f"spark local[{cores}]", result[f"spark_{cores}"], flush=True)
    if "ray" in engines:
        for actors in ray_actors:
            result[f"ray_{actors}"] = ray_run(path, artifact, actors, partitions)
            print(f"ray actors={actors}", result[f"ray_{actors}"], flush=True)
    return result


def _rate(result: dict, key: str) -> float:
    return result["users"] / result[key]["scoring_s"] if key in result else float("nan")


def render(results: list[dict], command: str, quick: bool, source: str, meta: dict) -> str:
    mib = 2**20
    lines = common.header("Batch scoring on Spark and Ray Data", command, quick,
                          f"Model: {meta['weights']}; shape source: {source}.")
    head = ["rows", "users", "engine", "shuffle s", "scoring s", "scoring users/s (wall)",
            "vs 1 core (wall)", "users per CPU-s", "vs 1-thread runtime (per CPU-s)",
            "peak RSS per worker"]
    table = []
    for r in results:
        one = r["single"]
        table.append([f"{r['rows']:,}", f"{r['users']:,}", "runtime, 1 process, 1 thread", "—",
                      f"{one['seconds']:.1f} ({one['users']:,} users)",
                      common.fmt_num(one["users_per_s"]), "—",
                      common.fmt_num(one["users_per_cpu_s"]), "1.00×", "—"])
        for engine, label in (("spark", "Spark local[{n}]"), ("ray", "Ray, {n} actor(s)")):
            for n in (1, 2):
                key = f"{engine}_{n}"
                if key not in r:
                    continue
                rate, stage = _rate(r, key), r[key]
                cpu = stage.get("python_cpu_s", 0) + stage.get("engine_cpu_s", 0)
                per_cpu = r["users"] / cpu if cpu else float("nan")
                table.append([
                    f"{r['rows']:,}", f"{r['users']:,}", label.format(n=n),
                    f"{stage['shuffle_s']:.1f}", f"{stage['scoring_s']:.1f}",
                    common.fmt_num(rate),
                    common.fmt_ratio(rate / _rate(r, f"{engine}_1")) if n == 2 else "1.00×",
                    common.fmt_num(per_cpu), common.fmt_ratio(per_cpu / one["users_per_cpu_s"]),
                    common.bytes_text(stage["worker_peak_rss"]),
                ])
    lines += ["", *common.md_table(head, table), "",
              "CPU seconds: the scoring processes' user + system time during the stage, read "
              "from /proc (Spark: its Python workers and the JVM; Ray: the actors and the "
              "raylet); the single process: its own. They compare the work per user "
              "independently of what else ran on the machine.", ""]
    for r in results:
        s2 = r.get("spark_2", {})
        if "grouped_end_to_end_s" in s2:
            lines.append(
                f"* {r['rows']:,} rows, Spark local[2] end to end: sorted + mapInArrow "
                f"{s2['sorted_end_to_end_s']:.1f} s (worker peak "
                f"{common.bytes_text(s2['sorted_worker_peak_rss'])}) vs groupBy(bucket)."
                f"applyInArrow {s2['grouped_end_to_end_s']:.1f} s (worker peak "
                f"{common.bytes_text(s2['grouped_worker_peak_rss'])}).")
        for cores in (1, 2):
            if f"spark_{cores}" in r:
                lines.append(f"* {r['rows']:,} rows, Spark local[{cores}]: a {WARMUP_ROWS:,}-row "
                             "warm-up job (Python workers start, model loads, JIT) took "
                             f"{r[f'spark_{cores}']['warmup_s']:.1f} s before the timed stages.")
        lines.append(f"* {r['rows']:,} rows: the single-process runtime's model load added "
                     f"{r['single']['model_load_rss'] / mib:.0f} MiB RSS, scoring "
                     f"{r['single']['scoring_extra_rss'] / mib:.0f} MiB more.")
    return "\n".join(lines)


def main() -> int:
    parser = common.suite_parser(__doc__, "200k rows, Spark and Ray once, prints only")
    parser.add_argument("--sizes", default="5000000,50000000", help="comma list of row counts")
    parser.add_argument("--engines", default="spark,ray")
    parser.add_argument("--baseline-rows", type=int, default=2_000_000,
                        help="rows the single-process reference scores (its users/s does not "
                        "depend on the table size)")
    parser.add_argument("--spark-cores", default="1,2", help="local[N] masters to run")
    parser.add_argument("--ray-actors", default="1,2", help="scoring actor counts to run")
    parser.add_argument("--full-up-to", type=int, default=5_000_000,
                        help="larger sizes run only Spark local[2] (sorted): the shuffle, "
                        "scoring, CPU and memory figures at scale, within the time budget")
    parser.add_argument("--name", default="batch_engines",
                        help="results/section name (separate runs keep separate files)")
    parser.add_argument("--no-grouped", action="store_true",
                        help="skip the groupBy(bucket).applyInArrow comparison")
    args = parser.parse_args()
    sizes = [200_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    engines = set(args.engines.split(","))
    meta = common.build_model()
    _, _, _, source = ml1m_shape()
    spark_cores = [int(n) for n in args.spark_cores.split(",")]
    ray_actors = [int(n) for n in args.ray_actors.split(",")]
    results = []
    for n in sizes:
        full = n <= args.full_up_to
        results.append(run_size(n, meta["artifact_dir"], args.baseline_rows,
                                engines if full else engines & {"spark"},
                                spark_cores if full else [max(spark_cores)], ray_actors,
                                full and not args.no_grouped))
    command = common.command_line("batch_engines.py", sys.argv[1:])
    body = render(results, command, args.quick, source, meta)
    common.finish(args.name, args.quick, (args.write or not args.quick)
                  and not args.no_write, body, {"results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())

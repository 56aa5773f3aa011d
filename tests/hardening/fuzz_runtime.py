"""Bounded fuzzing of seqrec-runtime's input handling.

    python tests/hardening/fuzz_runtime.py --seconds 60
    python tests/hardening/fuzz_runtime.py --seconds 600 --artifact path/to/artifact --seed 3

Hypothesis generates JSON-describable calls of ``score_items``, ``recommend`` and
``recommend_online`` on a loaded artifact (default: the golden one): tables as dicts,
pandas frames (with odd indexes) or pyarrow tables whose columns are lists, numpy arrays
of every dtype, 2-D/masked/ragged/set/str "columns", holding valid ids, unknown ids,
unicode, bytes, NaN/None/inf, huge and fractional numbers, datetimes with and without
time zones; plus every kind of bad parameter.

A *crash* is any of:

* an exception that is not a :class:`seqrec_runtime.SeqrecError`;
* a warning other than the documented ones (``ColdUserWarning``; the ``UserWarning``
  that ``top_k`` was clipped);
* an output that breaks the contract: scores not float32/finite/``(n_users, n_items)``,
  user ids not ascending and distinct, a recommended id outside the catalogue, repeated
  in a row, or seen by the user under ``exclude_seen=True``.

Each crash is shrunk by hypothesis and saved as ``fuzz_corpus/<api>-<error>-<hash>.json``
(``{"spec": ..., "found": ...}``); ``test_hardening_fuzz.py`` replays every file there
in ``make test`` (once the bug is fixed, add ``"expect": "<outcome>"``, the outcome
:func:`run_spec` returns, to pin the behaviour). Exit status: 0 when no new crash was
found, 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, reject, seed, settings
from hypothesis import strategies as st

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "fuzz_corpus"
GOLDEN = HERE.parent / "runtime" / "golden"
COLUMNS = ("USER_ID", "ITEM_ID", "TIMESTAMP", "OUTCOME")


class FuzzCrash(AssertionError):
    """The runtime broke its contract (see the module docstring)."""


# ---------------------------------------------------------------- JSON <-> Python values
def encode(value: Any) -> Any:
    """A JSON-able, tagged form of a generated value (see :func:`decode`)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return {"float": repr(value)}
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    if isinstance(value, dt.datetime):
        offset = value.utcoffset()
        return {"datetime": value.replace(tzinfo=None).isoformat(),
                "tz_minutes": None if offset is None else int(offset.total_seconds() // 60)}
    if isinstance(value, list):
        return {"list": [encode(v) for v in value]}
    raise TypeError(f"cannot encode {value!r}")


def decode(doc: Any) -> Any:
    if not isinstance(doc, dict):
        return doc
    if "float" in doc:
        return float(doc["float"])
    if "bytes" in doc:
        return bytes.fromhex(doc["bytes"])
    if "datetime" in doc:
        tz = doc["tz_minutes"]
        value = dt.datetime.fromisoformat(doc["datetime"])
        return value if tz is None else value.replace(
            tzinfo=dt.timezone(dt.timedelta(minutes=tz)))
    if "list" in doc:
        return [decode(v) for v in doc["list"]]
    if "np" in doc:  # a numpy scalar parameter, e.g. {"np": "int64", "value": 3}
        return np.dtype(doc["np"]).type(decode(doc["value"]))
    if "rng" in doc:
        return np.random.default_rng(doc["rng"])
    if "nat" in doc:  # pandas.NaT (a datetime subclass that is missing)
        import pandas as pd

        return pd.NaT
    raise ValueError(f"unknown tagged value {doc!r}")


# ---------------------------------------------------------------- building the call
def build_column(column: dict) -> Any:
    """Raises (anything) when numpy cannot build the column: the spec is then invalid."""
    values = [decode(v) for v in column["values"]]
    form, dtype = column["form"], column.get("dtype")
    if form == "list":
        return values
    if form == "tuple":
        return tuple(values)
    if form == "scalar":
        return values[0] if values else None
    if form == "str":
        return "".join(str(v) for v in values)
    if form == "set":
        return set(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy's own conversion warnings: not ours
        array = np.array(values, dtype=dtype)
    if form == "2d":
        return array.reshape(-1, 1)
    if form == "masked":
        mask = np.zeros(len(array), dtype=bool)
        mask[: column.get("masked", 0)] = True
        return np.ma.masked_array(array, mask=mask)
    return array


def build_table(spec: dict) -> Any:
    columns = {name: build_column(c) for name, c in spec["columns"].items()}
    container = spec["container"]
    if container == "pandas":
        import pandas as pd

        frame = pd.DataFrame(columns)
        frame.index = np.arange(len(frame))[::-1] * 3 + 1
        return frame
    if container == "pyarrow":
        import pyarrow as pa

        return pa.table(columns)
    return columns


def build_call(spec: dict) -> tuple[Any, dict]:
    kwargs = {k: decode(v) for k, v in spec["kwargs"].items()}
    if spec["api"] == "recommend_online":
        return build_column(spec["history"]), kwargs
    return build_table(spec), kwargs


# ---------------------------------------------------------------- the oracle
DOCUMENTED_WARNINGS = ("top_k", "candidate")


def _check_warnings(caught) -> None:
    from seqrec_runtime import ColdUserWarning

    for w in caught:
        if issubclass(w.category, ColdUserWarning):
            continue
        if w.category is UserWarning and any(s in str(w.message) for s in DOCUMENTED_WARNINGS):
            continue
        raise FuzzCrash(f"undocumented warning {w.category.__name__}: {w.message}")


def _seen_by_user(table: Any) -> dict:
    """Known items of each user, parsed the way the runtime parses them."""
    from seqrec_runtime.table import get_columns, normalize_ids

    cols = get_columns(table, ["USER_ID", "ITEM_ID"])
    users = normalize_ids(cols["USER_ID"], "USER_ID").tolist()
    items = normalize_ids(cols["ITEM_ID"], "ITEM_ID").tolist()
    seen: dict = {}
    for user, item in zip(users, items, strict=True):
        seen.setdefault(user, set()).add(item)
    return seen


def _check_recs(rt, recs: np.ndarray, seen_rows: list[set] | None) -> None:
    if recs.dtype != rt.item_ids_.dtype:
        raise FuzzCrash(f"recommendations of dtype {recs.dtype}, not {rt.item_ids_.dtype}")
    rows = recs.reshape(len(recs), -1) if recs.ndim == 2 else recs.reshape(1, -1)
    if rows.shape[1] < 1 or not np.isin(rows, rt.item_ids_).all():
        raise FuzzCrash(f"recommended ids outside the catalogue: {rows.tolist()[:3]}")
    for r, row in enumerate(rows.tolist()):
        if len(set(row)) != len(row):
            raise FuzzCrash(f"row {r} repeats an item: {row}")
        if seen_rows is not None and set(row) & seen_rows[r]:
            raise FuzzCrash(f"row {r} recommends seen items {set(row) & seen_rows[r]}")


def run_spec(rt, spec: dict) -> str:
    """Run one call; return ``"ok"`` or the SeqrecError class name; raise on a crash."""
    from seqrec_runtime import SeqrecError

    data, kwargs = build_call(spec)
    api = spec["api"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = getattr(rt, api)(data, **kwargs)
        except SeqrecError as exc:
            _check_warnings(caught)
            if not isinstance(exc, (ValueError, TypeError)):
                raise FuzzCrash(f"{type(exc).__name__} is not a ValueError/TypeError") from exc
            return type(exc).__name__
    _check_warnings(caught)
    if api == "recommend_online":
        history = None
        if kwargs.get("exclude_seen"):
            index = rt._encode_history(data)
            history = set(rt.item_ids_[index[index > 0] - 1].tolist())
        if result.ndim != 1:
            raise FuzzCrash(f"recommend_online returned shape {result.shape}")
        _check_recs(rt, result, [history] if history is not None else None)
        return "ok"
    users = None
    if kwargs.get("return_user_ids"):
        users, result = result
        if users.tolist() != sorted(set(users.tolist())):
            raise FuzzCrash(f"user ids not ascending and distinct: {users.tolist()[:5]}")
        if len(users) != len(result):
            raise FuzzCrash("user ids and result rows differ in number")
    if api == "score_items":
        if result.dtype != np.float32 or result.ndim != 2 or result.shape[1] != rt.n_items:
            raise FuzzCrash(f"scores of dtype {result.dtype} and shape {result.shape}")
        if not np.isfinite(result).all():
            raise FuzzCrash("non-finite scores")
        return "ok"
    seen_rows = None
    if kwargs.get("exclude_seen"):
        seen = _seen_by_user(data)
        seen_rows = [seen[u] for u in (users.tolist() if users is not None else sorted(seen))]
    if result.ndim != 2:
        raise FuzzCrash(f"recommend returned shape {result.shape}")
    _check_recs(rt, result, seen_rows)
    return "ok"


# ---------------------------------------------------------------- strategies
EDGE_INTS = [0, 1, -1, 7, 2**31, 2**53 + 1, 2**62 + 1, 2**63 - 1, -(2**63), 2**63, 2**64, 2**70]
EDGE_FLOATS = [0.0, -0.0, 1.0, 2.5, -3.0, 1e-310, 5e-324, 1e15, 2.0**53 + 2, 1e30, 1e308,
               float("nan"), float("inf"), float("-inf")]
DTYPES = [None, "int64", "int32", "uint64", "uint8", "float64", "float32", "float16", "U",
          "S", "object", "bool", "datetime64[s]", "datetime64[ns]", "datetime64[D]",
          "timedelta64[s]", "complex128"]


def _datetimes():
    naive = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31))
    tz = st.sampled_from([None, 0, 60, -300, 330, 840])
    return st.builds(
        lambda d, m: d if m is None else d.replace(tzinfo=dt.timezone(dt.timedelta(minutes=m))),
        naive, tz)


def weird_values(vocab: list) -> st.SearchStrategy:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.sampled_from(EDGE_INTS),
        st.integers(-(2**70), 2**70),
        st.sampled_from(EDGE_FLOATS),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=6),
        st.sampled_from(["", "\x00", "a\x00", "é", "😀", "\ud800", "item-001\x00"]),
        st.binary(max_size=6),
        st.sampled_from(vocab).map(lambda v: str(v).encode() if isinstance(v, str) else v),
        _datetimes(),
        st.sampled_from([  # aware datetimes whose UTC instant leaves years 1..9999
            dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5))),
            dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone(dt.timedelta(hours=-5)))]),
        st.lists(st.sampled_from(vocab), max_size=2),
    )


@st.composite
def columns(draw, good: st.SearchStrategy, vocab: list, n: int, clean: bool) -> dict:
    """A column of ``n`` good values; unless ``clean``, maybe corrupted cells/form/dtype."""
    values = draw(st.lists(good, min_size=n, max_size=n))
    if not clean and n and draw(st.integers(0, 2)) == 0:  # corrupt a few cells
        for _ in range(draw(st.integers(1, 2))):
            values[draw(st.integers(0, n - 1))] = draw(weird_values(vocab))
    forms = ["list", "ndarray", "tuple"]
    if not clean:
        forms += ["list", "ndarray", "2d", "masked", "scalar", "str", "set"]
    form = draw(st.sampled_from(forms))
    column = {"form": form, "values": [encode(v) for v in values]}
    if form in ("ndarray", "2d", "masked"):
        column["dtype"] = None if clean else draw(st.sampled_from(DTYPES[:1] * 4 + DTYPES))
    if form == "masked":
        column["masked"] = draw(st.integers(0, 1))
    return column


def _param(good: list, bad: list) -> st.SearchStrategy:
    """Mostly valid values (so that calls get past validation), sometimes invalid ones."""
    return st.one_of(st.sampled_from(good), st.sampled_from(good), st.sampled_from(good),
                     st.sampled_from(bad))


def kwargs_strategy(api: str) -> st.SearchStrategy:
    params = {
        "top_k": _param([1, 3, 5, 10, 11, 39, 40, 41, 10**30, {"np": "int64", "value": 4},
                         {"np": "uint8", "value": 2}], [0, -1, 2.5, True, None, "3"]),
        "sampling_temperature": _param(
            [0, 0.0, 0.5, 1, 7.5, 1e-310, 5e-324, 1e-3, 1e308,
             {"np": "float32", "value": {"float": "0.5"}}],
            [-1.0, {"float": "nan"}, {"float": "inf"}, None, "1", True]),
        "exclude_seen": _param([True, False, {"np": "bool", "value": True}],
                               ["yes", 1, None]),
        "random_state": _param([None, 0, 7, 2**70, {"rng": 3}],
                               [-1, {"float": "1.5"}, "7", True]),
    }
    if api != "recommend_online":
        params["return_user_ids"] = _param([True, False], ["x"])
    if api == "score_items":
        params = {"return_user_ids": params["return_user_ids"]}
    return st.fixed_dictionaries({}, optional={
        k: (v.map(lambda x: x if isinstance(x, dict) else encode(x))) for k, v in params.items()
    })


@st.composite
def specs(draw, vocab: list) -> dict:
    api = draw(st.sampled_from(["score_items", "recommend", "recommend_online"]))
    kwargs = draw(kwargs_strategy(api))
    clean = draw(st.booleans())  # half the tables are well-formed: they reach the model
    known = st.sampled_from(vocab)
    items = st.one_of(known, known, known, st.sampled_from(
        ["zz", "ü-🛒", "item-000"] if isinstance(vocab[0], str) else [-5, 99999, 2**62]))
    if api == "recommend_online":
        n = draw(st.integers(0, 30))
        return {"api": api, "history": draw(columns(items, vocab, n, clean)), "kwargs": kwargs}
    n = draw(st.integers(0, 25))
    users = st.one_of(st.integers(0, 4), st.sampled_from(["u1", "ü2", "😀"]),
                      st.sampled_from([-(2**63), 2**63 - 1]))
    user_pool = draw(st.lists(users, min_size=1, max_size=4, unique_by=repr))
    good = {
        "USER_ID": st.sampled_from(user_pool),
        "ITEM_ID": items,
        "TIMESTAMP": draw(st.sampled_from([
            st.integers(0, 5), st.integers(-(2**62), 2**62),
            st.floats(-1e12, 1e12, allow_nan=False), _datetimes()])),
        "OUTCOME": st.floats(allow_nan=True, allow_infinity=True),
    }
    table = {}
    for name in COLUMNS:
        if not clean and name != "OUTCOME" and draw(st.integers(0, 20)) == 0:
            continue  # a missing column
        if name == "OUTCOME" and draw(st.booleans()):
            continue
        length = n if clean or draw(st.integers(0, 20)) else draw(st.integers(0, 25))
        table[name] = draw(columns(good[name], vocab, length, clean))
    container = draw(st.sampled_from(["dict"] * 3 + ["pandas", "pyarrow"]))
    return {"api": api, "container": container, "columns": table, "kwargs": kwargs}


# ---------------------------------------------------------------- driver
def _corpus_name(spec: dict, error: str) -> str:
    blob = json.dumps(spec, sort_keys=True).encode()
    return f"{spec['api']}-{error}-{hashlib.sha1(blob).hexdigest()[:10]}.json"


def save_case(corpus: Path, spec: dict, exc: BaseException) -> Path:
    corpus.mkdir(parents=True, exist_ok=True)
    error = type(exc).__name__
    path = corpus / _corpus_name(spec, error)
    doc = {"spec": spec, "found": {"error": f"{error}: {str(exc)[:300]}",
                                   "by": "tests/hardening/fuzz_runtime.py",
                                   "date": dt.date.today().isoformat()}}
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=True) + "\n", encoding="utf-8")
    return path


def _signature(exc: BaseException) -> str:
    """Type and message without numbers/quoted values: one signature per bug."""
    message = re.sub(r"'[^']*'|\"[^\"]*\"|[-+0-9.e]+", "_", str(exc).split("\n")[0])
    return f"{type(exc).__name__}: {message[:120]}"


def fuzz(rt, seconds: float | None = None, max_examples: int | None = None,
         seed_value: int = 0, corpus: Path | None = None, batch: int = 50,
         log=print) -> dict:
    """Fuzz ``rt`` for ``seconds`` (or ``max_examples``); return statistics.

    Crashes are saved into ``corpus`` (when given) and listed under ``"crashes"``.
    """
    vocab = rt.item_ids_.tolist()
    stats: dict[str, Any] = {"examples": 0, "outcomes": {}, "crashes": [], "seconds": 0.0}
    started = time.monotonic()
    last: dict[str, Any] = {}
    known: set[str] = set()  # crash signatures already reported: not shrunk again

    def one(spec):
        try:
            build_call(spec)
        except Exception:  # numpy/pandas/pyarrow cannot build this input: not a test
            reject()
        last.pop("spec", None)
        stats["examples"] += 1
        try:
            outcome = run_spec(rt, spec)
        except Exception as exc:
            if _signature(exc) in known:
                outcome = "known-crash"
            else:
                last["spec"] = spec
                raise
        stats["outcomes"][outcome] = stats["outcomes"].get(outcome, 0) + 1

    runs = 0
    while True:
        elapsed = time.monotonic() - started
        if seconds is not None and elapsed >= seconds:
            break
        if max_examples is not None and stats["examples"] >= max_examples:
            break
        size = batch if max_examples is None else min(batch, max_examples - stats["examples"])
        test = settings(max_examples=size, deadline=None, database=None,
                        phases=[Phase.generate, Phase.shrink], report_multiple_bugs=False,
                        suppress_health_check=list(HealthCheck))(
            given(specs(vocab))(one))
        test = seed(seed_value * 1_000_003 + runs)(test)
        runs += 1
        try:
            test()
        except Exception as exc:  # hypothesis re-raises the shrunk crash
            spec = last.get("spec")
            if spec is None:
                raise
            known.add(_signature(exc))
            entry = {"spec": spec, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
            if corpus is not None:
                entry["saved"] = str(save_case(corpus, spec, exc))
            stats["crashes"].append(entry)
            log(f"CRASH {entry['error']}\n  {json.dumps(spec)[:400]}")
    stats["seconds"] = round(time.monotonic() - started, 1)
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget (default 60)")
    parser.add_argument("--artifact", type=Path, default=GOLDEN, help="artifact to fuzz")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="where crashes go")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    args = parser.parse_args(argv)
    import seqrec_runtime

    rt = seqrec_runtime.load(args.artifact, providers=["CPUExecutionProvider"],
                             intra_op_num_threads=1, batch_size=4)
    stats = fuzz(rt, seconds=args.seconds, seed_value=args.seed, corpus=args.corpus)
    rate = stats["examples"] / max(stats["seconds"], 1e-9)
    print(json.dumps({"artifact": str(args.artifact), "seed": args.seed,
                      "examples": stats["examples"], "seconds": stats["seconds"],
                      "examples_per_second": round(rate, 1), "outcomes": stats["outcomes"],
                      "crashes": len(stats["crashes"])}, indent=1))
    return 1 if stats["crashes"] else 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())

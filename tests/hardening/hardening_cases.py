"""The catalogue of bad (and odd but valid) interaction tables of the hardening suite.

Every :class:`Case` is one row of the table in ``docs/errors.md``. ``build(v)`` makes the
table from the golden vocabulary ``v`` (``item-001`` .. ``item-040``). Expectations:

* ``infer``: what ``score_items`` / ``recommend`` do, in the trainer *and* the runtime
  (they share the parsing code and must behave identically): an exception class, or
  ``OK`` (then ``same_as(v)``, when given, builds a clean table that must give exactly the
  same users, scores and recommendations).
* ``dataset``: what ``InteractionsDataset`` (and so ``train``) does with the table.
* ``train``: what ``SequentialRecommender.train`` does when it differs from ``dataset``.
* ``column``: the column the error message must name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from seqrec_runtime.errors import (
    EmptyInputError,
    IdTypeError,
    InvalidParameterError,
    MissingValueError,
    SchemaError,
    TimestampTypeError,
)
from seqrec_trainer.errors import NotEnoughDataError

OK = "ok"
COLS = ("USER_ID", "ITEM_ID", "TIMESTAMP")


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[list[str]], Any]
    infer: Any = OK
    dataset: Any = OK
    train: Any = None  # None: same as ``dataset``
    column: str | None = None
    same_as: Callable[[list[str]], Any] | None = None
    cold: bool = False  # a ColdUserWarning is expected at inference
    users: list | None = None  # the user ids (row order) expected at inference
    same_window_only: bool = False  # ``same_as`` has the same last max_len items, but
    # exclude_seen=True excludes the WHOLE history: compare scores only

    @property
    def train_expect(self) -> Any:
        return self.dataset if self.train is None else self.train


def base(v: list[str], **changes: Any) -> dict[str, Any]:
    """3 users, 6 rows, in time order per user."""
    table = {
        "USER_ID": [1, 1, 1, 2, 2, 3],
        "ITEM_ID": [v[0], v[1], v[2], v[3], v[4], v[5]],
        "TIMESTAMP": [10, 20, 30, 10, 20, 5],
        "OUTCOME": [1.0, 2.0, 1.0, 1.0, 1.0, 1.0],
    }
    table.update(changes)
    return table


def _at(values: list, row: int, value: Any) -> list:
    values = list(values)
    values[row] = value
    return values


def _col(name: str, row: int, value: Any) -> Callable[[list[str]], dict]:
    return lambda v: base(v, **{name: _at(base(v)[name], row, value)})


def _without(name: str) -> Callable[[list[str]], dict]:
    return lambda v: {k: x for k, x in base(v).items() if k != name}


def _utc_ns(*stamps: str) -> list[int]:
    return [int(pd.Timestamp(s).value) for s in stamps]


CASES: list[Case] = []

# ---------------------------------------------------------------- columns / containers
CASES += [
    Case(f"missing-{c}", _without(c), SchemaError, SchemaError, column=c) for c in COLS
]
CASES += [
    Case("missing-OUTCOME", _without("OUTCOME"), same_as=base),
    Case("extra-columns", lambda v: base(v, EXTRA=list("abcdef"), user_id=[0] * 6),
         same_as=base),
    Case("length-mismatch", lambda v: base(v, USER_ID=[1, 1, 1, 2, 2]), SchemaError,
         SchemaError),
    Case("not-a-table", lambda v: [(1, v[0], 10)], SchemaError, SchemaError),
    Case("none-instead-of-table", lambda v: None, SchemaError, SchemaError,
         train=InvalidParameterError),  # train(interactions_ds=None): "is required"
    Case("column-is-a-string", lambda v: base(v, USER_ID="111223"), SchemaError, SchemaError,
         column="USER_ID"),
    Case("column-is-a-set", lambda v: base(v, USER_ID={1, 2, 3, 4, 5, 6}), SchemaError,
         SchemaError, column="USER_ID"),
    Case("column-2d", lambda v: base(v, USER_ID=np.array([[1], [1], [1], [2], [2], [3]])),
         SchemaError, SchemaError, column="USER_ID"),
    Case("column-ragged", lambda v: base(v, USER_ID=[[1], [1, 2], 1, 2, 2, 3]), SchemaError,
         SchemaError, column="USER_ID"),
    Case("dataframe-duplicate-column",
         lambda v: pd.DataFrame([[1, v[0], 10, 11]], columns=[*COLS, "TIMESTAMP"]),
         SchemaError, SchemaError, column="TIMESTAMP"),
    Case("dataframe-non-default-index",
         lambda v: pd.DataFrame(base(v), index=[50, 3, 7, 1000, -2, 4]), same_as=base),
    Case("dataframe-filtered-index",  # index [0, 1, 2, 4, 5, 6]: positions count, not labels
         lambda v: (lambda df: df[df.USER_ID != 9])(
             pd.DataFrame({k: [*c[:3], c[0], *c[3:]] for k, c in base(v, USER_ID=[
                 1, 1, 1, 2, 2, 3]).items()} | {"USER_ID": [1, 1, 1, 9, 2, 2, 3]})),
         same_as=base),
    Case("pyarrow-table", lambda v: pa.table(base(v)), same_as=base),
]

# ---------------------------------------------------------------- missing values
for _c in COLS:
    CASES += [
        Case(f"nan-{_c}", _col(_c, 1, np.nan), MissingValueError, MissingValueError,
             column=_c),
        Case(f"none-{_c}", _col(_c, 1, None), MissingValueError, MissingValueError,
             column=_c),
        Case(f"inf-{_c}", _col(_c, 1, np.inf), MissingValueError, MissingValueError,
             column=_c),
    ]
CASES += [
    Case("nat-TIMESTAMP",
         lambda v: base(v, TIMESTAMP=pd.to_datetime([10, None, 30, 10, 20, 5], unit="s")),
         MissingValueError, MissingValueError, column="TIMESTAMP"),
    Case("pandas-NA-USER_ID",
         lambda v: pd.DataFrame(base(v, USER_ID=pd.array([1, None, 1, 2, 2, 3],
                                                         dtype="Int64"))),
         MissingValueError, MissingValueError, column="USER_ID"),
    Case("arrow-null-ITEM_ID", lambda v: pa.table(_col("ITEM_ID", 2, None)(v)),
         MissingValueError, MissingValueError, column="ITEM_ID"),
    Case("masked-USER_ID",
         lambda v: base(v, USER_ID=np.ma.masked_array([1, 1, 1, 2, 2, 3], mask=[0, 1, 0, 0, 0, 0])),
         MissingValueError, MissingValueError, column="USER_ID"),
    # OUTCOME is not read at inference: a NaN there changes nothing (never all-NaN scores);
    # training refuses it.
    Case("nan-OUTCOME", _col("OUTCOME", 1, np.nan), dataset=MissingValueError,
         column="OUTCOME", same_as=base),
    Case("none-OUTCOME", _col("OUTCOME", 1, None), dataset=MissingValueError,
         column="OUTCOME", same_as=base),
    Case("inf-OUTCOME", _col("OUTCOME", 1, -np.inf), dataset=MissingValueError,
         column="OUTCOME", same_as=base),
    Case("OUTCOME-beyond-float32", _col("OUTCOME", 1, 1e39), dataset=SchemaError,
         column="OUTCOME", same_as=base),
    Case("OUTCOME-complex", lambda v: base(v, OUTCOME=np.ones(6) * 1j), dataset=SchemaError,
         column="OUTCOME", same_as=base),
    Case("OUTCOME-text", lambda v: base(v, OUTCOME=list("abcdef")), dataset=SchemaError,
         column="OUTCOME", same_as=base),
]

# ---------------------------------------------------------------- size
CASES += [
    Case("empty", lambda v: {c: [] for c in COLS}, EmptyInputError, EmptyInputError),
    Case("empty-dataframe",
         lambda v: pd.DataFrame({c: pd.Series([], dtype="int64") for c in COLS}),
         EmptyInputError, EmptyInputError),
    Case("single-row", lambda v: {"USER_ID": [7], "ITEM_ID": [v[3]], "TIMESTAMP": [1]},
         train=NotEnoughDataError, users=[7]),
]

# ---------------------------------------------------------------- ids
CASES += [
    Case("mixed-types-USER_ID", _col("USER_ID", 1, "1"), IdTypeError, IdTypeError,
         column="USER_ID"),
    Case("mixed-types-ITEM_ID", _col("ITEM_ID", 1, 3), IdTypeError, IdTypeError,
         column="ITEM_ID"),
    Case("ITEM_ID-of-another-type-than-the-model",
         lambda v: base(v, ITEM_ID=[1, 2, 3, 4, 5, 6]), IdTypeError, column="ITEM_ID"),
    Case("float-ids-with-fractions", _col("USER_ID", 4, 2.5), IdTypeError, IdTypeError,
         column="USER_ID"),
    Case("integral-float-ids", lambda v: base(v, USER_ID=[1.0, 1.0, 1.0, 2.0, 2.0, 3.0]),
         same_as=base, users=[1, 2, 3]),
    Case("float-ids-beyond-2**53", _col("USER_ID", 0, 2.0**53 + 2), IdTypeError, IdTypeError,
         column="USER_ID"),
    Case("boolean-ids", lambda v: base(v, USER_ID=[True] * 6), IdTypeError, IdTypeError,
         column="USER_ID"),
    Case("complex-ids", lambda v: base(v, USER_ID=np.ones(6, dtype=complex)), IdTypeError,
         IdTypeError, column="USER_ID"),
    Case("extreme-int64-ids",
         lambda v: base(v, USER_ID=[-(2**63)] * 3 + [2**63 - 1] * 2 + [-1]),
         users=[-(2**63), -1, 2**63 - 1]),
    Case("ids-beyond-int64", _col("USER_ID", 0, 2**64), IdTypeError, IdTypeError,
         column="USER_ID"),
    Case("uint64-ids-beyond-int64",
         lambda v: base(v, USER_ID=np.array([2**64 - 1] * 3 + [2, 2, 3], dtype=np.uint64)),
         IdTypeError, IdTypeError, column="USER_ID"),
    Case("unicode-string-ids",
         lambda v: base(v, USER_ID=["ü😀"] * 3 + ["", ""] + ["\u200b"]),
         users=["", "ü😀", "\u200b"]),
    Case("numeric-strings-are-distinct-ids",
         lambda v: base(v, USER_ID=["1", "1", "01", "2", "2", "3"]),
         users=["01", "1", "2", "3"]),
    Case("unicode-unknown-items",
         lambda v: base(v, USER_ID=[1, 1, 1, 2, 2, 9], ITEM_ID=[*v[:5], "🛒-ünknown"]),
         cold=True, users=[1, 2, 9]),
    Case("bytes-item-ids", lambda v: base(v, ITEM_ID=[x.encode() for x in base(v)["ITEM_ID"]]),
         same_as=base),
    Case("bytes-item-ids-not-utf8", _col("ITEM_ID", 0, b"\xff\xfe"), IdTypeError,
         IdTypeError, column="ITEM_ID"),
    Case("string-id-with-trailing-NUL", lambda v: _col("ITEM_ID", 0, v[0] + "\x00")(v),
         IdTypeError, IdTypeError, column="ITEM_ID"),
]

# ---------------------------------------------------------------- rows and order
CASES += [
    Case("duplicate-rows",
         lambda v: {k: [c[0], *c] for k, c in base(v).items()},
         same_as=lambda v: base(v, USER_ID=[1, 1, 1, 1, 2, 2, 3],
                                ITEM_ID=[v[0], *base(v)["ITEM_ID"]],
                                TIMESTAMP=[10, 11, 20, 30, 10, 20, 5],
                                OUTCOME=[1.0] * 7)),
    Case("equal-timestamps-keep-input-order",
         lambda v: base(v, TIMESTAMP=[7, 7, 7, 3, 3, 3]),
         same_as=lambda v: base(v, TIMESTAMP=[1, 2, 3, 1, 2, 3])),
    Case("unsorted-rows", lambda v: {k: c[::-1] for k, c in base(v).items()}, same_as=base),
    Case("history-longer-than-max_len",
         lambda v: {"USER_ID": [1] * 30, "ITEM_ID": [v[i] for i in range(30)],
                    "TIMESTAMP": list(range(30))},
         same_as=lambda v: {"USER_ID": [1] * 12, "ITEM_ID": [v[i] for i in range(18, 30)],
                            "TIMESTAMP": list(range(18, 30))},
         same_window_only=True),
    Case("every-item-unknown-for-a-user",
         lambda v: base(v, ITEM_ID=[*v[:5], "nope"]), cold=True, users=[1, 2, 3]),
    Case("every-item-unknown-for-every-user",
         lambda v: base(v, ITEM_ID=[f"nope-{i}" for i in range(6)]), cold=True,
         users=[1, 2, 3]),
]

# ---------------------------------------------------------------- timestamps
CASES += [
    Case("float-timestamps", lambda v: base(v, TIMESTAMP=[0.5, 0.75, 1e9, 0.5, 2.5, -1.0]),
         same_as=base),
    Case("datetime64-timestamps",
         lambda v: base(v, TIMESTAMP=np.array(base(v)["TIMESTAMP"], dtype="datetime64[s]")),
         same_as=base),
    Case("pandas-tz-aware-timestamps",
         lambda v: pd.DataFrame(base(v, TIMESTAMP=pd.to_datetime(
             base(v)["TIMESTAMP"], unit="s").tz_localize("UTC").tz_convert("Asia/Kolkata"))),
         same_as=base),
    Case("python-datetimes-in-several-timezones",
         lambda v: base(v, TIMESTAMP=[  # 10:00+02:00 is before 09:00Z: UTC order counts
             dt.datetime(2024, 1, 1, 9, tzinfo=dt.timezone.utc),
             dt.datetime(2024, 1, 1, 10, tzinfo=dt.timezone(dt.timedelta(hours=2))),
             dt.datetime(2024, 1, 1, 11, tzinfo=dt.timezone.utc)] * 2),
         same_as=lambda v: base(v, TIMESTAMP=_utc_ns("2024-01-01T09", "2024-01-01T08",
                                                     "2024-01-01T11") * 2)),
    Case("naive-and-aware-datetimes-mixed",
         lambda v: base(v, TIMESTAMP=[dt.datetime(2024, 1, 1),
                                      dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)] * 3),
         TimestampTypeError, TimestampTypeError, column="TIMESTAMP"),
    Case("datetimes-outside-the-ns-range",
         lambda v: base(v, TIMESTAMP=np.array(["1000-01-01", "2000-01-01", "3000-01-01"] * 2,
                                              dtype="datetime64[s]")),
         TimestampTypeError, TimestampTypeError, column="TIMESTAMP"),
    Case("string-timestamps",
         lambda v: base(v, TIMESTAMP=[f"2024-01-0{i}" for i in range(1, 7)]),
         TimestampTypeError, TimestampTypeError, column="TIMESTAMP"),
    Case("boolean-timestamps", lambda v: base(v, TIMESTAMP=[True, False] * 3),
         TimestampTypeError, TimestampTypeError, column="TIMESTAMP"),
    Case("timedelta-timestamps",
         lambda v: base(v, TIMESTAMP=np.arange(6).astype("timedelta64[s]")),
         TimestampTypeError, TimestampTypeError, column="TIMESTAMP"),
    Case("timestamps-beyond-int64", _col("TIMESTAMP", 0, 2**70), TimestampTypeError,
         TimestampTypeError, column="TIMESTAMP"),
    Case("uint64-timestamps-beyond-int64",
         lambda v: base(v, TIMESTAMP=np.array([2**64 - 1] * 6, dtype=np.uint64)),
         TimestampTypeError, TimestampTypeError, column="TIMESTAMP"),
]

BY_ID = {case.id: case for case in CASES}
assert len(BY_ID) == len(CASES), "case ids must be unique"

"""What training shows and leaves behind: the progress bar and the training curve files.

* :class:`TrainingProgress` draws one progress bar over a ``fit`` (batches of every epoch,
  the last epoch's loss and validation metrics beside it) and writes short notes above it.
* :func:`write_training_curve` saves the per-epoch history next to a saved model as
  ``training_curve.csv`` and ``training_curve.png`` (loss and validation metrics).

``verbose=None`` (the estimators' default) means "interactive": a bar when standard error
is a terminal or the code runs in a Jupyter/IPython kernel, silence otherwise (logs, CI,
pipes). ``verbose=0`` is always silent.
"""

from __future__ import annotations

import csv
import logging
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

logger = logging.getLogger("seqrec")

CURVE_CSV = "training_curve.csv"
CURVE_PNG = "training_curve.png"
#: Per-epoch columns of the curve CSV, in this order when present.
CURVE_COLUMNS = ("epoch", "loss", "val_loss", "val_ndcg@10", "val_hr@10", "time_s")


def is_interactive(stream: TextIO | None = None) -> bool:
    """Whether output on ``stream`` (default: standard error) is seen by a person.

    True for a terminal, and inside a Jupyter/IPython kernel (whose streams are not
    terminals but are shown in the notebook).
    """
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        if isatty is not None and isatty():
            return True
    except ValueError:  # a closed stream
        return False
    return "ipykernel" in sys.modules


def resolve_verbosity(verbose: int | None, stream: TextIO | None = None) -> int:
    """The verbosity a ``fit`` runs with: ``verbose``, or for ``None`` 1 when
    :func:`is_interactive` else 0."""
    if verbose is None:
        return 1 if is_interactive(stream) else 0
    return int(verbose)


class TrainingProgress:
    """The progress of one ``fit``: a bar over all batches of all epochs, and notes.

    Parameters
    ----------
    verbosity
        0: nothing; 1: the bar and notes; 2: also one log line (``seqrec`` logger, INFO)
        per epoch.
    epochs, batches_per_epoch
        Planned length of the run (early stopping may end it sooner).
    stream
        Where the bar and notes go (default: standard error).
    """

    def __init__(self, verbosity: int, epochs: int, batches_per_epoch: int,
                 stream: TextIO | None = None) -> None:
        self.verbosity = int(verbosity)
        self.epochs = int(epochs)
        self.stream = stream
        self._bar = None
        if self.verbosity > 0:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.epochs * max(1, int(batches_per_epoch)),
                             desc=self._description(0), unit="batch", file=stream,
                             dynamic_ncols=True)

    def _description(self, epochs_done: int) -> str:
        return f"SASRec {epochs_done}/{self.epochs} epochs"

    def note(self, text: str, log_when_quiet: bool = True) -> None:
        """Write ``text`` on its own line (above the bar) when the progress is shown; when
        it is not, log it (``seqrec`` logger, INFO: shown by the ``seqrec`` command) unless
        ``log_when_quiet`` is False."""
        if self.verbosity <= 0:
            if log_when_quiet:
                logger.info(text)
            return
        if self._bar is not None:
            self._bar.write(text, file=self.stream or sys.stderr)

    def batch_done(self) -> None:
        """Advance the bar by one batch."""
        if self._bar is not None:
            self._bar.update(1)

    def epoch_done(self, record: dict[str, float]) -> None:
        """Show an epoch's loss and validation metrics (and log them at verbosity 2)."""
        shown = {k: f"{v:.4f}" for k, v in record.items() if k not in ("epoch", "time_s")}
        if self._bar is not None:
            self._bar.set_description(self._description(int(record["epoch"])), refresh=False)
            self._bar.set_postfix(shown)
        if self.verbosity > 1:
            logger.info("epoch %d %s (%.1fs)", record["epoch"], shown, record["time_s"])

    def close(self) -> None:
        """Close the bar (it stays on screen where it stopped)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def describe_plan(n_sequences: int, n_items: int, epochs: int, patience: int | None,
                  monitor: str, has_validation: bool) -> str:
    """One line saying what a ``fit`` is about to do, for :meth:`TrainingProgress.note`."""
    plan = f"SASRec: training on {n_sequences:,} sequences over {n_items:,} items, "
    if not has_validation:
        return plan + (f"{epochs} epochs (no validation data, so no early stopping; give "
                       "validation rows, e.g. each user's second-to-last item, to stop "
                       "when they stop improving)")
    if patience is None:
        return plan + f"{epochs} epochs, validation every epoch (no early stopping)"
    return plan + (f"up to {epochs} epochs, stopping after {patience} epochs without a better "
                   f"{monitor}")


def write_training_curve(directory: str | Path, history: Sequence[dict[str, Any]],
                         best_epoch: int | None = None) -> list[Path]:
    """Write ``training_curve.csv`` and ``training_curve.png`` into ``directory``.

    Parameters
    ----------
    directory
        An existing directory (the saved model's).
    history
        One dict per epoch (``estimator.history_``): ``epoch``, ``loss`` and, with
        validation data, ``val_loss`` / ``val_ndcg@10`` / ``val_hr@10``, and ``time_s``.
    best_epoch
        The epoch whose weights were kept (marked on the plot), or ``None``.

    Returns
    -------
    list of pathlib.Path
        The files written; empty when ``history`` is empty. Without matplotlib only the CSV
        is written, with a ``RuntimeWarning``.
    """
    if not history:
        return []
    directory = Path(directory)
    columns = [c for c in CURVE_COLUMNS if any(c in row for row in history)]
    columns += sorted({k for row in history for k in row} - set(columns))
    csv_path = directory / CURVE_CSV
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(history)
    png_path = directory / CURVE_PNG
    try:
        plot_training_curve(history, best_epoch, png_path)
    except ImportError as exc:  # matplotlib is a dependency, but an install may lack it
        warnings.warn(f"{CURVE_PNG} not written: matplotlib cannot be imported ({exc}); "
                      f"{CURVE_CSV} has the same numbers (pip install matplotlib for the plot)",
                      RuntimeWarning, stacklevel=2)
        return [csv_path]
    return [csv_path, png_path]


def plot_training_curve(history: Sequence[dict[str, Any]], best_epoch: int | None,
                        path: str | Path) -> None:
    """Plot loss (training and validation) and the validation ranking metrics per epoch.

    Uses matplotlib's object API with the Agg canvas, so no display and no global
    ``pyplot`` state are involved.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    epochs = [int(row["epoch"]) for row in history]
    metrics = [m for m in ("val_ndcg@10", "val_hr@10") if any(m in row for row in history)]
    figure = Figure(figsize=(10 if metrics else 5.5, 4), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 2 if metrics else 1, squeeze=False)[0]
    _plot_series(axes[0], epochs, history, ("loss", "val_loss"), "loss", best_epoch)
    if metrics:
        _plot_series(axes[1], epochs, history, metrics, "validation metric", best_epoch)
    figure.savefig(path, dpi=100)


def _plot_series(axis: Any, epochs: list[int], history: Sequence[dict[str, Any]],
                 names: Sequence[str], ylabel: str, best_epoch: int | None) -> None:
    from matplotlib.ticker import MaxNLocator

    for name in names:
        if any(name in row for row in history):
            values = [row.get(name, float("nan")) for row in history]
            axis.plot(epochs, values, marker="o", markersize=3, label=name)
    if best_epoch is not None:
        axis.axvline(best_epoch, color="grey", linestyle="--", label=f"kept: epoch {best_epoch}")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("epoch")
    axis.set_ylabel(ylabel)
    axis.grid(alpha=0.3)
    axis.legend()

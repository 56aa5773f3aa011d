"""``seqrec train`` flags built from the estimator itself.

Every constructor parameter of :class:`SASRecEstimatorBase` becomes a flag: its default is
read from the signature, its allowed values from the parameter table
(:data:`seqrec_trainer.estimator.checks.ESTIMATOR_PARAMS`) and its help text from the
class docstring, with the reST markup removed. Nothing is copied, so a new parameter
reaches the command line by itself.
"""

from __future__ import annotations

import argparse
import inspect
import re
from typing import Any

from seqrec_runtime.param_checks import Choice, Flag, Int, Real, Spec

#: Parameters with their own flag (``--max-len``: the recommender's too; ``--verbose``).
OWN_FLAGS = ("max_len", "verbose")
_HELP_CHARS = 240


def strip_rest(text: str) -> str:
    """``text`` without reST markup: ``:class:`~a.B``` -> ``B``, double back-quotes
    and single back-quotes removed."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", lambda m: m.group(1).split(".")[-1]
                  if m.group(0).startswith(":class:`~") else m.group(1), text)
    text = re.sub(r"``([^`]+)``", r"\1", text)
    return re.sub(r"`([^`]+)`", r"\1", text)


def parameter_docs(doc: str | None) -> dict[str, str]:
    """Parameter name -> description from a numpy-style ``Parameters`` section (names
    listed together share their description), reST markup removed."""
    lines = inspect.cleandoc(doc or "").splitlines()
    docs: dict[str, list[str]] = {}
    names: list[str] = []
    inside = False
    for number, line in enumerate(lines):
        underline = number + 1 < len(lines) and set(lines[number + 1].strip()) == {"-"}
        if underline:
            inside = line.strip() == "Parameters"
            names = []
            continue
        if not inside or set(line.strip()) == {"-"}:
            continue
        if line and not line.startswith(" "):
            names = [name.strip() for name in line.split(",")]
            for name in names:
                docs.setdefault(name, [])
        elif line.strip():
            for name in names:
                docs[name].append(line.strip())
    return {name: strip_rest(" ".join(words)) for name, words in docs.items()}


def short_help(text: str) -> str:
    """The first sentences of ``text`` that fit in a help line or two."""
    sentences = re.split(r"(?<=\.)\s+(?=[A-Z\"(])", text)
    out = sentences[0]
    for sentence in sentences[1:]:
        if len(out) + 1 + len(sentence) > _HELP_CHARS:
            break
        out += " " + sentence
    return out


def value_parser(name: str, default: Any, spec: Spec | None) -> Any:
    """An argparse ``type`` for parameter ``name``: numbers, ``none`` where None is
    allowed, and the spec's extra words (e.g. ``auto``)."""
    words = {str(value).lower(): value for value in (spec.also if spec else ())}
    if spec is not None and spec.none or default is None:
        words["none"] = None

    def parse(text: str) -> Any:
        if text.lower() in words:
            return words[text.lower()]
        if isinstance(spec, Int) or (spec is None and type(default) is int):
            return int(text)
        if isinstance(spec, Real) or (spec is None and isinstance(default, float)):
            return float(text)
        return text

    parse.__name__ = name  # argparse names it in "invalid NAME value: ..."
    return parse


def allowed_values(name: str, spec: Spec | None, losses: list[str]) -> str:
    """``"one of: a, b"`` / ``"an integer >= 1"`` ... for the help text ("" if free)."""
    if name == "loss_fn_name":
        return "one of: " + ", ".join(losses)
    if isinstance(spec, Choice):
        return "one of: " + ", ".join(str(c) for c in spec.choices)
    extra = [str(v) for v in (spec.also if spec else ())] + (["none"] if spec and spec.none
                                                              else [])
    if isinstance(spec, Int):
        bound = f" >= {spec.low}" if spec.low is not None else ""
        text = f"an integer{bound}"
    elif isinstance(spec, Real):
        low = "" if spec.low is None else f" {'>' if spec.low_open else '>='} {spec.low:g}"
        high = "" if spec.high is None else f" {'<' if spec.high_open else '<='} {spec.high:g}"
        text = f"a number{low}{' and' if low and high else ''}{high}"
    else:
        return ""
    return text + (f", or {' / '.join(extra)}" if extra else "")


def _default_text(name: str, default: Any, regressor_default: Any) -> str:
    shown = "none" if default is None else str(default).lower() if isinstance(default, bool) \
        else str(default)
    if regressor_default != default:
        return f"{shown} (classifier), {regressor_default} (regressor)"
    return shown


def add_estimator_flags(
    parser: argparse.ArgumentParser, only: tuple[str, ...] | None = None,
    title: str = "estimator parameters (default: the --preset's value when it sets one, "
                 "else the estimator's default shown below)",
    show_defaults: bool = True,
) -> list[str]:
    """Add one flag per estimator parameter (but :data:`OWN_FLAGS`; only ``only`` when
    given); return their names.

    Every flag defaults to None (= not given), so a preset's value or the estimator's
    own default applies; the help text shows the estimator's default.
    """
    from seqrec_trainer.estimator.base import SASRecEstimatorBase
    from seqrec_trainer.estimator.checks import ESTIMATOR_PARAMS
    from seqrec_trainer.estimator.sasrec import SASRecClassifierEstimator, SASRecRegressorEstimator

    signature = inspect.signature(SASRecClassifierEstimator.__init__)
    regressor = inspect.signature(SASRecRegressorEstimator.__init__).parameters
    docs = parameter_docs(SASRecEstimatorBase.__doc__)
    shared = {text for text in docs.values() if list(docs.values()).count(text) > 1}
    losses = sorted({*SASRecClassifierEstimator._losses, *SASRecRegressorEstimator._losses})
    group = parser.add_argument_group(title)
    names = []
    for name, param in signature.parameters.items():
        if name == "self" or name in OWN_FLAGS or (only is not None and name not in only):
            continue
        spec = ESTIMATOR_PARAMS.get(name)
        flag = "--" + name.replace("_", "-")
        default = param.default
        words = name.replace("_", " ")
        text = docs.get(name, words)
        parts = [f"{words.capitalize()}. {short_help(text)}" if text in shared
                 else short_help(text)]
        allowed = allowed_values(name, spec, losses)
        if allowed:
            parts.append(f"Allowed: {allowed}.")
        if show_defaults:
            parts.append(f"Default: {_default_text(name, default, regressor[name].default)}.")
        text = " ".join(parts).replace("%", "%%")
        if isinstance(spec, Flag) or isinstance(default, bool):
            group.add_argument(flag, dest=name, default=None,
                               action=argparse.BooleanOptionalAction, help=text)
        else:
            metavar = "N" if isinstance(spec, Int) else "X" if isinstance(spec, Real) else "VALUE"
            group.add_argument(flag, dest=name, default=None, metavar=metavar,
                               type=value_parser(name, default, spec), help=text)
        names.append(name)
    return names

"""``seqrec train --nproc-per-node 2``: torchrun on 2 local ranks, one saved model."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from ddp_support import run_bounded, succeeded
from seqrec_cli.main import main
from seqrec_trainer import SequentialRecommender
from seqrec_trainer.datasets import make_sequential_interactions
from seqrec_trainer.distributed.launcher import strip_launch_flags, torchrun_command
from seqrec_trainer.errors import InvalidParameterError

TRAIN_FLAGS = ["--max-len", "8", "--hidden-units", "16", "--num-blocks", "1", "--epochs", "2",
               "--batch-size", "32", "--loss-fn-name", "ce", "--random-state", "0",
               "--verbose", "0"]


def write_csv(path, table) -> None:
    lines = ["USER_ID,ITEM_ID,TIMESTAMP"]
    lines += [f"{u},{i},{t}" for u, i, t in zip(table["USER_ID"], table["ITEM_ID"],
                                                table["TIMESTAMP"], strict=True)]
    path.write_text("\n".join(lines) + "\n")


def test_seqrec_train_on_two_ranks_saves_one_model(tmp_path):
    data = make_sequential_interactions(n_users=60, n_items=25, min_length=4, max_length=15,
                                        random_state=21)
    write_csv(tmp_path / "train.csv", data)
    command = [sys.executable, "-m", "seqrec_cli", "train", "--nproc-per-node", "2",
               "--ddp-timeout", "60", "--interactions", str(tmp_path / "train.csv"),
               "--output", str(tmp_path / "model"), *TRAIN_FLAGS]
    result = run_bounded(command)
    assert succeeded(result, (tmp_path / "model" / "config.json").is_file()), \
        result.stdout[-4000:]
    assert result.stdout.count('"saved"') == 1  # rank 0 reports, rank 1 stays quiet
    summary = json.loads(result.stdout[result.stdout.index("{"):result.stdout.rindex("}") + 1])
    assert summary["epochs_run"] == 2 and summary["n_users"] == 60
    recommender = SequentialRecommender.load(tmp_path / "model")
    recs = recommender.recommend(data, top_k=5)
    assert recs.shape == (60, 5) and np.isin(recs, recommender.item_ids_).all()


def test_launch_flags_are_passed_as_environment_not_arguments():
    argv = ["train", "--nproc-per-node", "2", "--ddp-timeout=30", "--ddp-compression", "bf16",
            "--interactions", "x.csv"]
    assert strip_launch_flags(argv) == ["train", "--interactions", "x.csv"]
    command = torchrun_command(["--interactions", "x.csv"], 2)
    assert command[1:7] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                            "2", "-m"]
    with pytest.raises(InvalidParameterError, match="--nproc-per-node"):
        torchrun_command([], 0)


def test_bad_timeout_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEQREC_DDP_TIMEOUT_S", "soon")
    from seqrec_trainer.distributed.context import timeout_seconds

    with pytest.raises(InvalidParameterError, match="SEQREC_DDP_TIMEOUT_S"):
        timeout_seconds()
    write_csv(tmp_path / "train.csv", make_sequential_interactions(n_users=5, n_items=5))
    assert main(["train", "--interactions", str(tmp_path / "train.csv"), "--output",
                 str(tmp_path / "m"), "--nproc-per-node", "0"]) == 2
    assert "--nproc-per-node must be a positive int" in capsys.readouterr().err

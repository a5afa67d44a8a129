"""The one training loop (radvoice.training.loop.run_steps) with a stand-in step: LR schedule,
logging, evaluation and checkpoint cadence, resume, stop_after, the STOP file and the budget."""

from __future__ import annotations

import math

import pytest
import torch

from radvoice.training.config import TrainSettings
from radvoice.training.loop import (
    STOP_FILE,
    lr_factor,
    resume_run,
    run_steps,
    save_checkpoint,
    start_run,
)


class Task:
    """A one-parameter model whose step records what the loop did."""

    def __init__(self, run, stop_file_at: int | None = None) -> None:
        self.run = run
        self.w = torch.nn.Parameter(torch.zeros(1))
        run.optimizer = torch.optim.SGD([{"params": [self.w], "lr": 0.1, "base_lr": 0.1}])
        self.lrs: list[float] = []
        self.evaluated: list[int] = []
        self.saved: list[int] = []
        self.stop_file_at = stop_file_at

    def train_step(self, step: int) -> dict[str, float]:
        lr = self.run.optimizer.param_groups[0]["lr"]
        self.lrs.append(lr)
        if self.stop_file_at is not None and step + 1 == self.stop_file_at:
            (self.run.out_dir / STOP_FILE).touch()
        return {"loss": 1.0 / (step + 1), "step": step + 1, "lr": lr}

    def evaluate(self, step: int) -> None:
        self.evaluated.append(step)

    def checkpoint(self, step: int, history) -> None:
        self.saved.append(step)
        save_checkpoint(
            self.run.out_dir / "checkpoint.pt",
            {"step": step, "model": {"w": self.w.detach()}, "history": history,
             "optimizer": self.run.optimizer.state_dict()},
        )  # fmt: skip


def _settings(**kw) -> TrainSettings:
    base = dict(batch_size=4, max_steps=10, warmup_steps=2, log_every=3, eval_every=4,
                checkpoint_every=5, lr=0.1)  # fmt: skip
    return TrainSettings(**{**base, **kw})


def test_steps_follow_the_schedule_and_cadence(tmp_path):
    run = start_run(_settings(), tmp_path, "loop")
    task = Task(run)
    final = run_steps(task, run, "test", progress=False)
    assert final == 10 and [h["step"] for h in run.history] == list(range(1, 11))
    assert task.lrs == pytest.approx([0.1 * lr_factor(s, 2, 10) for s in range(10)])
    assert task.evaluated == [4, 8] and task.saved == [5, 10]
    log = (tmp_path / "train.log").read_text()
    assert "step 3/10 loss 0.3333" in log and "step 10/10" in log and "step 4/10" not in log


def test_resume_continues_where_the_checkpoint_stopped(tmp_path):
    run = start_run(_settings(), tmp_path, "loop")
    task = Task(run)
    assert run_steps(task, run, "test", progress=False, stop_after=5) == 5
    again = start_run(_settings(), tmp_path, "loop")
    task2 = Task(again)
    resume_run(again, True, lambda state: task2.w.data.copy_(state["w"]))
    assert again.start_step == 5 and len(again.history) == 5
    assert run_steps(task2, again, "test", progress=False) == 10
    assert len(task2.lrs) == 5 and task2.lrs[0] == pytest.approx(0.1 * lr_factor(5, 2, 10))
    assert [h["step"] for h in again.history] == list(range(1, 11))


def test_the_stop_file_and_the_time_budget_end_a_run(tmp_path):
    run = start_run(_settings(), tmp_path / "a", "loop")
    (tmp_path / "a" / STOP_FILE).touch()  # left over from an earlier run: removed at start
    task = Task(run, stop_file_at=3)
    assert run_steps(task, run, "test", progress=False) == 3
    assert "stopping at step 3: STOP file" in (tmp_path / "a" / "train.log").read_text()
    budget = start_run(_settings(max_minutes=1e-9), tmp_path / "b", "loop")
    assert run_steps(Task(budget), budget, "test", progress=False) == 1
    assert "time budget" in (tmp_path / "b" / "train.log").read_text()


def test_bad_batch_size_is_a_one_line_error(tmp_path):
    from radvoice.errors import RadVoiceError

    with pytest.raises(RadVoiceError, match="batch_size 1"):
        start_run(_settings(batch_size=1), tmp_path, "loop")
    assert math.isfinite(lr_factor(0, 0, 1))

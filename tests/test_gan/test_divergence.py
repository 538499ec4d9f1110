"""--on-nonfinite on a run built to blow up (extragradient with plain SGD at a learning rate of 1e30: its
look-ahead point overflows D, so every step meets an Inf from the first on, while the point the step
started from is still good): raise stops with the clear error, skip and rollback finish the run and
count what they dropped in metrics.jsonl;
and the progress output: a bar on a terminal, one line per evaluation elsewhere."""

import io
import json

import pytest
import torch

from gan import callbacks
from gan import checkpoint as ck
from gan import training as T
from gan.cli import main

BLOW_UP = ["--data", "ring", "--width", "8", "--depth", "1", "--latent-dim", "4", "--batch-size", "16",
           "--eval-samples", "50", "--no-progress", "--threads", "1", "--solver", "extragradient", "--optimizer", "sgd",
           "--lr", "1e30", "--steps", "6", "--eval-every", "3", "--checkpoint-every", "3"]


def _metrics(run):
    return [json.loads(x) for x in (run / T.METRICS).read_text().splitlines()]


def test_raise_stops_with_the_clear_error(tmp_path, capsys):
    assert main(["train", *BLOW_UP, "--on-nonfinite", "raise", "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gan: error: training stopped at step 1: non-finite") and "is intact" in err
    assert ck.load_checkpoint(tmp_path / "r" / T.CHECKPOINT)["step"] == 0


@pytest.mark.filterwarnings("always::equilib.NonFiniteWarning")
def test_skip_finishes_and_counts_every_skipped_step(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", *BLOW_UP, "--on-nonfinite", "skip", "--out", str(run)]) == 0
    warned = [x for x in capsys.readouterr().err.splitlines() if x.startswith("gan: warning: extragradient: non-finite")]
    assert len(warned) == 6 and all(x.endswith("step skipped") for x in warned)
    state = ck.load_checkpoint(run / T.CHECKPOINT)
    events = state["solver"]["nonfinite"]["events"]
    # every step skipped: six events, and the parameters are still the initial ones
    assert state["step"] == 6 and [e["action"] for e in events] == ["skip"] * 6
    assert [r["nonfinite"] for r in _metrics(run)] == [{"skip": 3, "rollback": 0}, {"skip": 6, "rollback": 0}]
    init, _, _ = T.load_run(run)
    fresh = T.build(init.config)
    assert all(torch.equal(a, b) for a, b in zip(fresh.G.state_dict().values(), state["G"].values()))


@pytest.mark.filterwarnings("always::equilib.NonFiniteWarning")
def test_rollback_finishes_scaling_the_rates_and_counts_rollbacks(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", *BLOW_UP, "--on-nonfinite", "rollback", "--rollback-factor", "1e-31",
                 "--max-rollbacks", "2", "--out", str(run)]) == 0
    assert "step rolled back; learning rates now" in capsys.readouterr().err
    state = ck.load_checkpoint(run / T.CHECKPOINT)
    events = state["solver"]["nonfinite"]["events"]
    # one rollback at the first step (eta 1e30 -> 0.1), then five good steps
    assert state["step"] == 6 and [(e["action"], e["step"]) for e in events] == [("rollback", 0)]
    lr = state["solver"]["optimizers"]["G"]["param_groups"][0]["lr"]
    assert lr == pytest.approx(1e30 * 1e-31)       # eta <- eta * factor per rollback
    assert [r["nonfinite"] for r in _metrics(run)] == [{"skip": 0, "rollback": 1}] * 2
    assert all(torch.isfinite(v).all() for v in state["G"].values())
    cfg = json.loads((run / T.CONFIG).read_text())
    assert (cfg["on_nonfinite"], cfg["rollback_factor"], cfg["max_rollbacks"]) == ("rollback", 1e-31, 2)


@pytest.mark.filterwarnings("always::equilib.NonFiniteWarning")
def test_rollbacks_used_up_stop_the_run(tmp_path, capsys):
    status = main(["train", *BLOW_UP, "--on-nonfinite", "rollback", "--rollback-factor", "0.5",
                   "--max-rollbacks", "1", "--out", str(tmp_path / "r")])
    assert status == 1
    assert "after 1 rollbacks, the most allowed by max_rollbacks" in capsys.readouterr().err


class _Stream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


@pytest.mark.parametrize("tty", [False, True])
def test_progress_is_a_bar_on_a_terminal_and_lines_elsewhere(tmp_path, monkeypatch, tty):
    stream = _Stream(tty)
    real = callbacks.Progress.__init__
    monkeypatch.setattr(callbacks.Progress, "__init__", lambda self, b, start, session, stream_=None:
                        real(self, b, start, session, stream))
    T.train(data="ring", width=8, depth=1, latent_dim=4, batch_size=16, eval_samples=50, threads=1, solver="simgd",
            steps=6, eval_every=3, checkpoint_every=6, out=str(tmp_path / "r"))
    text = stream.getvalue()
    if tty:
        assert "\r" in text and "6/6" in text
    else:
        assert "\r" not in text
        lines = text.splitlines()
        assert [line.split(" | ")[0].split()[:4] for line in lines] == [["ring", "simgd", "step", "3/6"],
                                                                      ["ring", "simgd", "step", "6/6"]]
        assert all("L_G" in line and "modes" in line for line in lines)

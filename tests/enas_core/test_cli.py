import json
import subprocess
import sys

import pytest

from enas_core import options
from enas_core.cli import _make_parser as _parser
from enas_core.cli import build_config, main
from enas_core.options import OPTIONS
from enas_core.spaces import arch_from_json
from tests.enas_core.helpers import TINY


def test_help_lists_every_option_with_its_default():
    out = subprocess.run([sys.executable, "-m", "enas_core.cli", "search", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for flag in ("--dataset", "--device", "--output", "--preset",
                 *(option.flag for option in OPTIONS.values())):
        assert f"{flag} " in out or f"{flag}\n" in out, flag
    assert "(default: quick)" in out and "quick: 5)" in out
    assert "1..4,096" in out  # bounds are shown
    assert "--batch-size" not in out.replace("-search-batch-size", "")  # aliases are not listed


def test_flags_are_the_job_options():
    """The CLI sets the RunConfig exactly as the API does for the same option values."""
    argv = ["--space", "macro", "--layers", "4", "--search-batch-size", "64", "--seed", "3",
            "--augment", "crop-flip", "--cutout", "8", "--no-aux-head", "--max-params", "50000"]
    config = build_config(_parser().parse_args(["search", *argv]))
    values = {"space": "macro", "layers": 4, "search_batch_size": 64, "seed": 3,
              "augment": "crop-flip", "cutout": 8, "aux_head": False, "max_params": 50000}
    assert config == options.build_config(values, preset="quick")
    assert config.train.model.layers == 4 and config.train.model.space == "macro"
    assert config.search.augment.crop_padding == 4 and config.train.augment.cutout == 8


def test_older_flag_spellings_still_work():
    args = _parser().parse_args(["search", "--batch-size", "64", "--candidates", "3",
                                 "--controller-steps", "2", "--lr", "0.1"])
    config = build_config(args)
    assert (config.search.batch_size, config.search.num_candidates) == (64, 3)
    assert (config.search.controller.train_steps, config.search.lr_max) == (2, 0.1)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--search-batch-size", "5000"], "at most 4,096"),
        (["--time-limit", "inf"], "finite"),
        (["--layers", "x"], "must be an integer"),
        (["--drop-path", "1"], "less than 1"),
    ],
)
def test_out_of_bounds_flags_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        _parser().parse_args(["search", *argv])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_search_writes_result_and_model(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["search", *TINY, "--search-epochs", "2", "--final-epochs", "1",
                 "--output", str(out)])
    assert code == 0
    result = json.loads((out / "result.json").read_text())
    arch = arch_from_json(result["best"]["arch"])
    assert arch.nodes == 2
    assert [r["phase"] for r in result["history"]] == ["search", "search", "final"]
    assert {"test_acc", "params", "flops", "latency_ms"} <= set(result["final"])
    assert (out / "model.pt").exists()
    printed = capsys.readouterr().out
    assert result["best"]["arch"]["conv_text"] in printed and "test_acc" in printed


@pytest.mark.slow
def test_resume_continues_from_the_newest_checkpoint(tmp_path):
    out = tmp_path / "run"
    assert main(["search", *TINY, "--search-epochs", "1", "--final-epochs", "0",
                 "--output", str(out)]) == 0
    assert main(["search", *TINY, "--search-epochs", "2", "--final-epochs", "0",
                 "--output", str(out), "--resume"]) == 0
    result = json.loads((out / "result.json").read_text())
    assert [r["epoch"] for r in result["history"]] == [1, 2]


def test_train_a_given_architecture(tmp_path):
    out = tmp_path / "train"
    code = main(["train", "--arc", "1 0 1 4 0 0 2 4", "--reduce-arc", "0 0 1 0 2 0 1 3",
                 "--dataset", "digits", "--final-epochs", "1", "--final-layers", "3",
                 "--final-channels", "4", "--final-steps-per-epoch", "3", "--output", str(out),
                 "--device", "cpu"])
    assert code == 0
    result = json.loads((out / "result.json").read_text())
    assert result["best"]["arch"]["conv_text"] == "1 0 1 4 0 0 2 4"
    assert result["final"]["params"] > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--arc", "1 0 1 9", "--reduce-arc", "0 0 1 0"], "9 is not an op"),
        (["train", "--arc", "1 0 1 0"], "give --arc and --reduce-arc"),
        (["search", "--dataset", "/nonexistent/file.npz"], "file.npz"),
        (["search", "--layers", "4"], "multiple of 3"),
    ],
)
def test_bad_input_exits_2_with_a_message(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_random_strategy_and_baseline_from_the_cli(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["search", *TINY, "--search-epochs", "1", "--final-epochs", "1",
                 "--strategy", "random", "--baseline", "random", "--output", str(out)])
    assert code == 0
    result = json.loads((out / "result.json").read_text())
    assert result["search_report"]["strategy"] == "random"
    assert result["search_report"]["controller"] is None
    assert [r["phase"] for r in result["history"]] == ["search", "final", "baseline"]
    baseline = result["baseline"]
    assert baseline["arch"] == result["search_report"]["random"]["top"][0]["arch"]
    assert (out / "baseline-model.pt").is_file()
    printed = capsys.readouterr().out
    assert "random search: 2 candidates" in printed
    assert (f"{result['final']['test_acc']:.4f} (search's best) against "
            f"{baseline['final']['test_acc']:.4f} (best random candidate") in printed


@pytest.mark.slow
def test_the_closing_summary_compares_the_controller_with_random(tmp_path, capsys):
    assert main(["search", *TINY, "--search-epochs", "1", "--final-epochs", "0",
                 "--output", str(tmp_path / "run")]) == 0
    printed = capsys.readouterr().out
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["search_report"]["summary"] in printed


def _epoch(phase, epoch, epochs, progress, val_acc=None):
    from enas_core.metrics import EpochMetrics

    return EpochMetrics(phase=phase, epoch=epoch, epochs=epochs, progress=progress,
                        train_loss=0.5, train_acc=0.8, val_acc=val_acc, lr=0.05, seconds=1.0)


def test_the_progress_bar_says_what_it_does_where_it_stands_still():
    """A demo-like run (4 search epochs, 2 final) replayed on a clock: what the bar says
    before the first epoch, between epochs, and at 100% (testing, saving), with an ETA only
    once 5% of progress has been measured past the preparing."""
    import io

    from enas_core.cli import Progress

    now = [0.0]
    progress = Progress(6, clock=lambda: now[0], file=io.StringIO())
    shown = []

    def at(t, report, *args, **kwargs):
        now[0] = t
        report(*args, **kwargs)
        shown.append((progress.bar.desc.removesuffix(": "), progress.bar.postfix))

    at(0, progress.phase, "preparing", epoch=0, epochs=4, progress=0.0)
    at(90, progress.phase, "search", epoch=0, epochs=4, progress=0.0)
    at(95, progress.phase, "search", epoch=0, epochs=4, progress=0.01)  # the reference
    at(125, progress.phase, "search", epoch=0, epochs=4, progress=0.09)
    at(150, progress, _epoch("search", 1, 4, 1 / 6, val_acc=0.5))
    at(330, progress, _epoch("search", 4, 4, 4 / 6, val_acc=0.9))
    at(350, progress.phase, "final", epoch=0, epochs=2, progress=4 / 6)
    at(410, progress, _epoch("final", 2, 2, 1.0, val_acc=0.93))
    assert shown == [
        ("preparing: the data, latency tables", ""),
        ("search 0/4", ""),
        ("search 0/4", ""),  # 1%, the reference: nothing measured yet
        ("search 0/4", "ETA=5 min 41 s"),  # 8% in 30 s, 91% to go
        ("search 1/4", "loss=0.500, best_val=0.5000, ETA=4 min 53 s"),
        ("search 4/4 done, ranking the candidates",
         "loss=0.500, best_val=0.9000, ETA=1 min 59 s"),
        ("final 0/2", "loss=0.500, best_val=0.9000, ETA=2 min 09 s"),  # the ranking counts now
        ("final 2/2 done, testing the network, saving it",
         "loss=0.500, best_val=0.9000, val=0.9300"),
    ]
    progress.close()


def test_the_result_shows_a_trained_networks_warnings(tmp_path, capsys):
    from enas_core.cli import _print_result
    from enas_core.spaces import get_space

    arch = get_space("micro").parse("1 0 1 4", "0 0 1 0").to_json()
    final = {"test_acc": 0.11, "params": 1000, "flops": 2000, "latency_ms": 0.5,
             "latency_batch_size": 1, "device": "cpu",
             "warnings": [{"code": "val_acc_at_chance", "message": "scores 0.111 ..."}]}
    _print_result({"arch": arch, "val_acc": 0.5}, final, tmp_path)
    assert "WARNING: scores 0.111 ..." in capsys.readouterr().out.splitlines()

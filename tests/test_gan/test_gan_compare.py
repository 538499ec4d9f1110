"""`gan compare`: runs found, launched, read and aggregated into a report whose numbers are the runs' own."""

import json
import math
import statistics

import pytest

from gan.cli import main
from gan.compare import CompareError, read_run, rows
from gan.compare.cli import parse_seeds
from gan.compare.table import markdown


def fake_run(folder, solver, seed, values, steps=100, lr=1e-3):
    """A run folder as gan train writes it: config.json and one evaluation per entry of ``values``."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"data": "ring", "solver": solver, "seed": seed,
                                                    "steps": steps, "lr": lr, "out": str(folder)}))
    lines = [json.dumps({"step": (k + 1) * steps // len(values), "seconds": 2.0 * (k + 1),
                         "losses": {"G": 0.7, "D": 1.3}, "ema": {"modes": m, "high_quality": hq}})
             for k, (m, hq) in enumerate(values)]
    (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_seeds_parse_ranges_and_lists():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("3,1,1") == [1, 3]
    for bad in ("", "a", "4-2", "-1"):
        with pytest.raises(CompareError, match="--seeds"):
            parse_seeds(bad)


def test_table_is_mean_and_sample_std_over_seeds_of_the_last_evaluation(tmp_path):
    runs = [read_run(fake_run(tmp_path / f"u{s}", "unrolled", s, [(3, 0.1), (m, hq)]))
            for s, (m, hq) in enumerate([(8, 0.90), (6, 0.96), (7, 0.93)])]
    runs.append(read_run(fake_run(tmp_path / "s0", "simgd", 0, [(1, 0.5)])))
    table = rows(runs)
    assert [r.label for r in table] == ["simgd", "unrolled"]
    unrolled = table[1]
    assert unrolled.seeds == [0, 1, 2]
    mean, std = unrolled.stat("ema.modes")
    assert mean == 7.0 and math.isclose(std, 1.0)  # (8, 6, 7): mean 7, sample std 1
    assert math.isclose(unrolled.stat("ema.high_quality")[0], statistics.fmean([0.90, 0.96, 0.93]))
    assert math.isnan(table[0].stat("ema.modes")[1])  # one seed: no deviation
    assert math.isclose(unrolled.seconds_per_step(), 4.0 / 100)
    text = markdown(table)
    assert "| unrolled | 0,1,2 | 7.00 ± 1.00 | 0.9300 ± 0.0300 |" in text


def test_methods_of_one_solver_are_told_apart_by_what_differs(tmp_path):
    runs = [read_run(fake_run(tmp_path / "a", "simgd", 0, [(8, 0.9)], lr=1e-3)),
            read_run(fake_run(tmp_path / "b", "simgd", 0, [(2, 0.1)], lr=1e-1))]
    assert sorted(r.label for r in rows(runs)) == ["simgd (lr=0.001)", "simgd (lr=0.1)"]


def test_a_value_given_as_int_or_float_is_one_method(tmp_path):
    """``--write-recipes`` writes ``"r1": 1`` from ``--grid r1=0,1`` where ``--r1 1`` gives 1.0: one method;
    another value is told apart, and its label shows it."""
    runs = []
    for seed, (r1, gamma) in enumerate([(1, 10), (1.0, 10.0), (0.5, 10.0)]):
        folder = fake_run(tmp_path / f"r{seed}", "consensus", seed, [(8, 0.9)])
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "r1": r1, "solver_options": {"gamma": gamma}}))
        runs.append(read_run(folder))
    assert sorted((r.label, r.seeds) for r in rows(runs)) == [("consensus (r1=0.5)", [2]), ("consensus (r1=1)", [0, 1])]


def test_a_solver_option_given_at_its_default_is_one_method_with_leaving_it_out(tmp_path):
    """cgd given tol 1e-6, atol 1e-10 (its defaults, equilib.solvers.solver_options) and cgd given nothing run the
    same computation: one method; cgd at tol 1e-8 is another."""
    from equilib.solvers import solver_options
    assert solver_options("cgd")["tol"] == 1e-6 and solver_options("cgd")["atol"] == 1e-10
    runs = []
    for seed, options in enumerate([{"tol": 1e-6, "atol": 1e-10}, {}, {"tol": 1e-8}]):
        folder = fake_run(tmp_path / f"c{seed}", "cgd", seed, [(8, 0.9)])
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "solver_options": options}))
        runs.append(read_run(folder))
    assert sorted(r.seeds for r in rows(runs)) == [[0, 1], [2]]


def test_the_runs_section_names_the_settings_that_set_rows_apart_across_solvers(tmp_path):
    """Labels tell methods of one solver apart; the report's runs section also names what differs between
    solvers (here simgd trains with R1 and consensus without, at gamma 10), which labels alone hide."""
    from gan.compare.report import write_report
    runs = []
    for name, r1, options in [("simgd", 1, {}), ("consensus", 0, {"gamma": 10.0})]:
        folder = fake_run(tmp_path / name, name, 0, [(8, 0.9)])
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "r1": r1, "solver_options": options}))
        runs.append(read_run(folder))
    table = rows(runs)
    assert [r.label for r in table] == ["consensus", "simgd"]
    text = write_report(tmp_path / "report", table, {"command": "gan compare"}, draw=False)["report.md"].read_text()
    assert '- **simgd**: seeds 0; 100 steps; settings that differ between the rows: r1=1, solver_options={}' in text
    assert '- **consensus**: seeds 0; 100 steps; settings that differ between the rows: r1=0, ' \
        'solver_options={"gamma": 10}' in text
    assert "lr=" not in text  # the same for both: not listed


def test_an_option_added_later_counts_at_its_default(tmp_path):
    """A run written before an option existed (no key in its config.json) and one written after, with the option
    at its default, are the same method; a run with another value is told apart by it."""
    old = read_run(fake_run(tmp_path / "old", "simgd", 0, [(8, 0.9)]))
    new = fake_run(tmp_path / "new", "simgd", 1, [(6, 0.8)])
    config = json.loads((new / "config.json").read_text())
    (new / "config.json").write_text(json.dumps({**config, "compile": None, "fused": True}))
    other = fake_run(tmp_path / "other", "simgd", 2, [(4, 0.7)])
    (other / "config.json").write_text(json.dumps({**config, "seed": 2, "compile": "eager"}))
    table = rows([old, read_run(new), read_run(other)])
    assert sorted((r.label, r.seeds) for r in table) == [("simgd (compile=None)", [0, 1]),
                                                          ("simgd (compile=eager)", [2])]


def test_run_takes_a_glob_of_folders(tmp_path, capsys):
    """``--run DIR/*`` (the form docs/gan_results.md shows) reads every folder the shell expands it to."""
    folders = [fake_run(tmp_path / "runs" / f"u{s}", "unrolled", s, [(m, 0.9)]) for s, m in enumerate([8, 6])]
    main(["compare", "--run", *map(str, folders), "--no-figures", "--out", str(tmp_path / "report")])
    assert "| unrolled | 0,1 | 7.00 ± 1.41 |" in (tmp_path / "report" / "table.md").read_text()


def test_partial_run_is_marked(tmp_path, capsys):
    fake_run(tmp_path / "done", "simgd", 0, [(8, 0.9)], steps=100)
    partial = fake_run(tmp_path / "cut", "simgd", 1, [(5, 0.5)], steps=100)
    lines = (partial / "metrics.jsonl").read_text().splitlines()
    (partial / "metrics.jsonl").write_text(lines[0].replace('"step": 100', '"step": 50') + "\n")
    code = main(["compare", "--run", str(tmp_path / "done"), "--run", str(partial), "--no-figures",
                 "--out", str(tmp_path / "report")])
    assert code == 0
    report = (tmp_path / "report" / "report.md").read_text()
    assert "PARTIAL" in report and "(partial)" in report
    assert json.loads((tmp_path / "report" / "meta.json").read_text())["partial"]


def test_launches_missing_runs_then_reads_them_without_training_again(tmp_path, capsys):
    out, runs = tmp_path / "report", tmp_path / "runs"
    argv = ["compare", "--data", "ring", "--solvers", "simgd,extragradient", "--seeds", "0-1", "--steps", "20",
            "--set", "eval_every=10", "--set", "eval_samples=200", "--set", "checkpoint_every=10",
            "--runs", str(runs), "--out", str(out)]
    assert main(argv) == 0
    folders = sorted(p.name for p in runs.iterdir())
    assert folders == ["ring-extragradient-seed0", "ring-extragradient-seed1", "ring-simgd-seed0", "ring-simgd-seed1"]
    stamps = {p: (p / "metrics.jsonl").stat().st_mtime_ns for p in runs.iterdir()}
    # the table's numbers are the runs' last evaluations
    last = [json.loads((runs / f / "metrics.jsonl").read_text().splitlines()[-1]) for f in folders[2:]]
    modes = [rec["ema"]["modes"] if "ema" in rec else rec["G"]["modes"] for rec in last]
    csv_text = (out / "table.csv").read_text()
    assert csv_text.count("\nsimgd,") == 2
    assert all((out / f).is_file() for f in ("table.md", "report.md", "report.html", "samples.png", "curves.png"))
    assert f"{statistics.fmean(modes):.2f}" in (out / "table.md").read_text()
    assert "[1/4] ring simgd seed 0: launching" in capsys.readouterr().err
    assert main(argv + ["--no-figures"]) == 0
    assert "done" in capsys.readouterr().err
    assert {p: (p / "metrics.jsonl").stat().st_mtime_ns for p in runs.iterdir()} == stamps


@pytest.mark.parametrize("argv, message", [
    (["--solvers", "simgd,nope"], "unknown solver(s) ['nope']"),
    (["--seeds", "x"], "--seeds must look like"),
    (["--run", "/nonexistent/run"], "not a run folder"),
    (["--no-launch"], "no runs to compare"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, message):
    code = main(["compare", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "r"), *argv])
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after any progress lines: one error line
    assert code == 2 and last.startswith("gan: error: ") and message in last


def test_report_folder_under_a_file_is_refused_before_any_run(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    code = main(["compare", "--solvers", "simgd", "--seeds", "0", "--runs", str(tmp_path / "runs"),
                 "--out", str(tmp_path / "file" / "report")])
    assert code == 2 and "--out" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_best_launches_each_solver_with_its_sweep_winner(tmp_path):
    best = {"data": "ring", "steps": 6, "grid": {"lr": [1e-4, 1e-3]}, "seeds": [0],
            "fixed": {"eval_every": 6, "eval_samples": 200, "checkpoint_every": 6, "beta1": None},
            "best": {"simgd": {"overrides": {"lr": 0.001, "optimizer": "rmsprop"}},
                     "optimistic": {"overrides": {"lr": 0.0001}}}}
    path = tmp_path / "ring.best.json"
    path.write_text(json.dumps(best))
    runs = tmp_path / "runs"
    assert main(["compare", "--best", str(path), "--solvers", "simgd,optimistic", "--seeds", "1",
                 "--runs", str(runs), "--no-figures", "--out", str(tmp_path / "r")]) == 0
    simgd = json.loads((runs / "ring-simgd-seed1" / "config.json").read_text())
    optimistic = json.loads((runs / "ring-optimistic-seed1" / "config.json").read_text())
    assert (simgd["lr"], simgd["optimizer"], simgd["steps"], simgd["seed"]) == (0.001, "rmsprop", 6, 1)
    assert (optimistic["lr"], optimistic["steps"]) == (0.0001, 6)


@pytest.mark.parametrize("best, argv, message", [
    ({"data": "ring"}, [], "not a gan sweep .best.json"),
    ({"data": "ring", "steps": 5, "fixed": {}, "best": {"simgd": {"overrides": {}}}}, ["--solvers", "cgd"],
     "no configuration for solver(s) ['cgd']"),
    ({"data": "ring", "steps": 5, "fixed": {}, "best": {"simgd": {"overrides": {}}}}, ["--solvers", "simgd",
                                                                                       "--data", "grid"],
     "is a sweep on ring"),
])
def test_best_file_refused_before_any_run(tmp_path, capsys, best, argv, message):
    path = tmp_path / "b.best.json"
    path.write_text(json.dumps(best))
    code = main(["compare", "--best", str(path), "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "r"),
                 *argv])
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_runs_count_each_steps_gradient_evaluations_and_backward_passes(tmp_path):
    """The counts are the algorithms' own: with the ring's non-saturating loss (general-sum, so xi is one
    backward pass per player), simgd evaluates once and takes 2 passes; extragradient twice that; altgd one
    evaluation and one pass per player; consensus adds one pass for J^T xi (Field.vjp). R1 is set to 0: the
    ring recipes of simgd, altgd and extragradient add it, and its input-gradient penalty is one pass more."""
    expected = {"simgd": (1, 2), "extragradient": (2, 4), "altgd": (2, 2), "consensus": (1, 3)}
    runs, out = tmp_path / "runs", tmp_path / "r"
    assert main(["compare", "--data", "ring", "--solvers", ",".join(expected), "--seeds", "0", "--steps", "6",
                 "--set", "eval_every=3", "--set", "eval_samples=100", "--set", "checkpoint_every=6",
                 "--set", "r1=0", "--runs", str(runs), "--no-figures", "--out", str(out)]) == 0
    for solver, (evals, backward) in expected.items():
        metrics = (runs / f"ring-{solver}-seed0" / "metrics.jsonl").read_text()
        records = [json.loads(line) for line in metrics.splitlines() if line.strip()]
        assert [r["cost"] for r in records] == [{"evaluations": evals, "backward": backward, "steps": 3}] * 2, solver
        assert f"| {evals} | {backward} |" in [line for line in (out / "table.md").read_text().splitlines()
                                                if line.startswith(f"| {solver} |")][0]


def test_each_evaluation_line_counts_every_step_since_the_line_before(tmp_path):
    """cgd's Krylov solve takes a different number of backward passes on each step (8 then 12 on the ring's
    seed 0): evaluated after every step, the lines hold each step's count; evaluated after two, the one line
    holds their mean over both steps, not the second step's count; the table's backward/step is that mean."""
    def lines(every):
        runs = tmp_path / f"every{every}"
        assert main(["compare", "--data", "ring", "--solvers", "cgd", "--seeds", "0", "--steps", "2",
                     "--set", f"eval_every={every}", "--set", "eval_samples=100", "--set", "checkpoint_every=2",
                     "--runs", str(runs), "--no-figures", "--out", str(tmp_path / f"r{every}")]) == 0
        text = (runs / "ring-cgd-seed0" / "metrics.jsonl").read_text()
        return [json.loads(line)["cost"] for line in text.splitlines() if line.strip()]
    first, second = lines(1)
    assert first["steps"] == second["steps"] == 1 and first["backward"] != second["backward"]
    (both,) = lines(2)
    assert both == {"evaluations": 1.0, "backward": (first["backward"] + second["backward"]) / 2, "steps": 2}
    assert read_run(tmp_path / "every1" / "ring-cgd-seed0").cost("backward") == both["backward"]


def test_run_cost_weighs_each_line_by_the_steps_it_covers(tmp_path):
    """(10 x 3 + 4 x 1) / 4 = 8.5; a line of an older run, without steps, counts as one step; a run
    without counts gives NaN."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"data": "ring", "solver": "cgd", "steps": 5}))
    records = [{"step": 3, "cost": {"evaluations": 1, "backward": 10, "steps": 3}},
               {"step": 4, "cost": {"evaluations": 2, "backward": 4}}, {"step": 5}]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    run = read_run(folder)
    assert run.cost("backward") == 8.5 and run.cost("evaluations") == 1.25
    (folder / "metrics.jsonl").write_text(json.dumps({"step": 5}) + "\n")
    assert math.isnan(read_run(folder).cost("backward"))


def test_a_run_folder_of_another_configuration_is_refused_before_anything_runs(tmp_path, capsys):
    """Folders are named data-solver-seed whatever --set says: asking for R1 1 where an R1-less run lies is refused,
    naming the folder and the key, before the missing run of the other seed is launched."""
    runs = tmp_path / "runs"
    common = ["compare", "--data", "ring", "--solvers", "simgd", "--steps", "10", "--set", "eval_every=10",
              "--set", "eval_samples=200", "--set", "checkpoint_every=10", "--runs", str(runs), "--no-figures"]
    assert main(common + ["--seeds", "1", "--set", "r1=0", "--out", str(tmp_path / "a")]) == 0
    stamp = (runs / "ring-simgd-seed1" / "metrics.jsonl").stat().st_mtime_ns
    capsys.readouterr()
    code = main(common + ["--seeds", "0-1", "--set", "r1=1", "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and str(runs / "ring-simgd-seed1") in err and "r1: the run has 0, asked 1" in err
    assert sorted(p.name for p in runs.iterdir()) == ["ring-simgd-seed1"]
    assert (runs / "ring-simgd-seed1" / "metrics.jsonl").stat().st_mtime_ns == stamp
    # the same settings again read the run as it is
    assert main(common + ["--seeds", "1", "--set", "r1=0", "--out", str(tmp_path / "c")]) == 0
    assert (runs / "ring-simgd-seed1" / "metrics.jsonl").stat().st_mtime_ns == stamp

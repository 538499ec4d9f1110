"""`gan sweep`: every solver gets the same grid, results are appended once each, an interrupted sweep resumes."""

import json

import pytest

from gan.cli import main
from gan.sweep import SweepError, best_configurations, configurations, parse_grid, score, score_heading, summary


def test_grid_is_the_product_of_its_values():
    grid = parse_grid(["lr_g=1e-4,1e-3", "lr_d=1e-4,1e-3,1e-2", "optimizer=adam"])
    assert grid == {"lr_g": [1e-4, 1e-3], "lr_d": [1e-4, 1e-3, 1e-2], "optimizer": ["adam"]}
    configs = configurations(grid)
    assert len(configs) == 6 and len({json.dumps(c, sort_keys=True) for c in configs}) == 6
    assert configurations({}) == [{}]


@pytest.mark.parametrize("items, message", [
    (["lr_g"], "KEY=V1,V2"), (["lr_g="], "KEY=V1,V2"), (["seed=1,2"], "sets seed itself"),
    (["lr_g=1", "lr_g=2"], "given twice"),
])
def test_bad_grid_names_the_problem(items, message):
    with pytest.raises(SweepError, match=message):
        parse_grid(items)


def test_score_orders_modes_then_quality_then_kl_of_the_best_generator():
    a = {"ema": {"modes": 8, "high_quality": 0.90, "kl": 0.01}}
    b = {"ema": {"modes": 7, "high_quality": 0.99, "kl": 0.001}}
    c = {"ema": {"modes": 8, "high_quality": 0.90, "kl": 0.02}}
    assert score(a) > score(b) and score(a) > score(c)
    assert score({"G": {"classes": 10, "kl": 0.1, "frechet": 5.0}}) > score({"G": {"classes": 9, "kl": 0.0}})
    # an average that collapsed to the centre does not hide a live generator that covers the ring
    both = {"G": {"modes": 7, "high_quality": 0.6, "kl": 0.4}, "ema": {"modes": 0, "high_quality": 0.0}}
    assert score(both) == ((7, 0.6, -0.4), "G")


def test_best_configuration_is_the_best_mean_over_seeds():
    lines = [{"solver": "simgd", "config_id": cid, "overrides": {"lr": lr}, "seed": seed,
              "evaluation": {"step": 10, "G": {"modes": m, "high_quality": hq, "kl": 0.0}}}
             for cid, lr, seed, m, hq in [("a", 1, 0, 8, 0.9), ("a", 1, 1, 6, 0.9),    # mean 7
                                          ("b", 2, 0, 7, 0.95), ("b", 2, 1, 7.5, 0.9)]]  # mean 7.25
    best = best_configurations(lines)["simgd"]
    assert best["overrides"] == {"lr": 2} and best["seeds"] == [0, 1] and best["generator"] == "G"
    assert best["mean_score"][0] == pytest.approx(7.25)


def test_summary_shows_the_image_metrics_of_an_image_sweep():
    def line(cid, lr, classes, kl, frechet):
        return {"solver": "simgd", "config_id": cid, "overrides": {"lr": lr}, "seed": 0, "seconds_per_step": 0.03,
                "evaluation": {"step": 2000, "G": {"classes": classes, "kl": kl, "frechet": frechet},
                               "ema": {"classes": 9, "kl": 0.5, "frechet": 300.0}}}
    lines = [line("a", 1e-4, 10, 0.05, 120.0), line("b", 2e-4, 10, 0.02, 99.5)]
    table = summary(lines, best_configurations(lines), "info").splitlines()
    assert "| solver | configuration | seed | generator | classes | KL | Frechet | s/step |" in table
    # the best generator's own figures, and the lower KL wins at equal classes
    assert '| **simgd** | **{"lr": 0.0002}** | 0 | G | 10 | 0.02 | 99.5 | 0.0300 |' in table
    assert '| simgd | {"lr": 0.0001} | 0 | G | 10 | 0.05 | 120 | 0.0300 |' in table
    ring = [{**line("a", 1e-4, 0, 0, 0), "evaluation": {"step": 1, "G": {"modes": 8, "high_quality": 0.9, "kl": 0.01}}}]
    assert "| solver | configuration | seed | generator | modes | high quality | KL | s/step |" in summary(
        ring, best_configurations(ring), "info")
    assert score_heading(lines) == "classes, -KL, -Frechet" and score_heading(ring) == "modes, high quality, -KL"


def test_sweep_gives_every_solver_the_same_budget_and_resumes_without_double_counting(tmp_path, capsys):
    out, runs = tmp_path / "sweep.jsonl", tmp_path / "runs"
    argv = ["sweep", "--data", "ring", "--solvers", "simgd,optimistic", "--grid", "lr=1e-3,1e-2",
            "--set", "eval_every=8", "--set", "eval_samples=200", "--set", "checkpoint_every=8",
            "--seeds", "0", "--steps", "8", "--runs", str(runs), "--out", str(out)]
    assert main(argv) == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted((r["solver"], r["overrides"]["lr"]) for r in lines) == [
        ("optimistic", 1e-3), ("optimistic", 1e-2), ("simgd", 1e-3), ("simgd", 1e-2)]
    assert all(r["evaluation"]["step"] == 8 for r in lines)
    for r in lines:  # each line is its run folder's own last evaluation
        last = json.loads((tmp_path / r["folder"]).joinpath("metrics.jsonl").read_text().splitlines()[-1])
        assert last == r["evaluation"]
        assert json.loads((tmp_path / r["folder"] / "config.json").read_text())["lr"] == r["overrides"]["lr"]
    best = json.loads((tmp_path / "sweep.best.json").read_text())
    assert set(best["best"]) == {"simgd", "optimistic"}
    # an interrupted sweep: the last result line lost; running again adds it back, once, without retraining
    out.write_text("\n".join(json.dumps(r) for r in lines[:-1]) + "\n")
    stamp = (tmp_path / lines[-1]["folder"] / "metrics.jsonl").stat().st_mtime_ns
    capsys.readouterr()
    assert main(argv) == 0
    again = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(again) == 4 and again[-1]["config_id"] == lines[-1]["config_id"]
    assert (tmp_path / lines[-1]["folder"] / "metrics.jsonl").stat().st_mtime_ns == stamp
    assert capsys.readouterr().err.count("] ring ") == 1
    assert main(argv) == 0 and len(out.read_text().splitlines()) == 4


def test_writing_recipes_sets_the_best_configuration_and_refuses_a_bad_one(tmp_path):
    import shutil

    from gan.config import TrainConfig
    from gan.recipes import RECIPES, RecipeError, recipe, update_recipes
    path = tmp_path / "recipes.json"
    shutil.copy(RECIPES, path)
    update_recipes("ring", {"simgd": {"optimizer": "adam", "lr": 3e-4}}, "test sweep", path)
    got = recipe("ring", "simgd", path)
    assert got["optimizer"] == "adam" and got["lr"] == 3e-4 and got["source"][-1].startswith("test sweep")
    # an entry that had a source keeps it after the sweep's, for the fields the sweep did not set
    update_recipes("ring", {"consensus": {"r1": 1.0}}, "test sweep", path)
    earlier = json.loads(RECIPES.read_text())["ring"]["consensus"]["source"]
    assert recipe("ring", "consensus", path)["source"][-1] == f"test sweep; its other fields: {earlier}"
    assert recipe("ring", "consensus", path)["optimizer"] == TrainConfig(data="ring", solver="consensus").resolved().optimizer
    before = path.read_text()
    with pytest.raises(RecipeError, match="ring.simgd"):
        update_recipes("ring", {"simgd": {"solver_options.nope": 1}}, "bad", path)
    assert path.read_text() == before  # the file is left as it was


def test_relative_grid_values_scale_each_solvers_recipe():
    from gan.config import TrainConfig
    from gan.sweep import resolve_relative
    for solver in ("simgd", "extragradient", "consensus"):
        config = {"data": "ring", "solver": solver, "seed": 0, "steps": 10}
        recipe = TrainConfig(data="ring", solver=solver).resolved()
        got = resolve_relative(config, {"lr_d": "x3", "ema": 0.99, "solver_options.gamma": "x0.5"}
                               if solver == "consensus" else {"lr_d": "x3", "ema": 0.99})
        assert got["lr_d"] == pytest.approx(3 * recipe.lr_d) and got["ema"] == 0.99
        if solver == "consensus":
            assert got["solver_options.gamma"] == pytest.approx(0.5 * recipe.solver_options["gamma"])
    # a fixed key the sweep sets is the base, not the recipe's
    assert resolve_relative({"data": "ring", "solver": "simgd", "lr": 0.02}, {"lr_g": "x0.5"})["lr_g"] == 0.01


@pytest.mark.parametrize("overrides, message", [
    ({"optimizer": "x2"}, "needs a numeric optimizer"),
    ({"lr_d": "x2", "optimizer": "nope"}, "cannot resolve"),
])
def test_relative_value_without_a_numeric_base_is_refused(overrides, message):
    from gan.sweep import resolve_relative
    with pytest.raises(SweepError, match=message):
        resolve_relative({"data": "ring", "solver": "simgd"}, overrides)


def test_sweep_with_relative_values_trains_and_recommends_absolute_ones(tmp_path, capsys):
    out, runs = tmp_path / "rel.jsonl", tmp_path / "runs"
    argv = ["sweep", "--data", "ring", "--solvers", "simgd", "--grid", "lr_d=x0.5,x2", "--set", "lr=0.004",
            "--set", "eval_every=4", "--set", "eval_samples=100", "--set", "checkpoint_every=4",
            "--steps", "4", "--runs", str(runs), "--out", str(out)]
    assert main(argv) == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(r["resolved"]["lr_d"] for r in lines) == [0.002, 0.008]
    for r in lines:
        config = json.loads((tmp_path / r["folder"] / "config.json").read_text())
        assert config["lr_d"] == r["resolved"]["lr_d"] and config["lr_g"] == 0.004
    best = json.loads((tmp_path / "rel.best.json").read_text())["best"]["simgd"]
    assert best["overrides"]["lr_d"] in (0.002, 0.008) and best["as_swept"]["lr_d"] in ("x0.5", "x2")
    before = out.read_text()
    capsys.readouterr()  # refused before anything is added
    assert main(argv[:5] + ["--grid", "optimizer=x2"] + argv[5:]) != 0
    assert "--grid optimizer=x2: a relative value xF needs a numeric optimizer" in capsys.readouterr().err
    assert out.read_text() == before


def test_a_run_folder_left_by_a_sweep_of_another_length_is_refused_before_anything_runs(tmp_path, capsys):
    """Folder names carry only the grid's overrides, so a second sweep into the same --runs at other --steps finds
    the first one's folders: refused, naming the folder and the key, with nothing trained or written."""
    runs = tmp_path / "runs"
    common = ["sweep", "--data", "ring", "--solvers", "simgd", "--set", "eval_every=8", "--set", "eval_samples=200",
              "--set", "checkpoint_every=8", "--seeds", "0", "--runs", str(runs)]
    assert main(common + ["--grid", "lr=1e-3", "--steps", "8", "--out", str(tmp_path / "a.jsonl")]) == 0
    (folder,) = runs.iterdir()
    stamp = (folder / "metrics.jsonl").stat().st_mtime_ns
    capsys.readouterr()
    # lr 1e-2 would be launched first; the lr 1e-3 folder of the 8-step sweep is found before it is
    code = main(common + ["--grid", "lr=1e-2,1e-3", "--steps", "16", "--out", str(tmp_path / "b.jsonl")])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and str(folder) in err and "steps: the run has 8, asked 16" in err
    assert [p.name for p in runs.iterdir()] == [folder.name] and (folder / "metrics.jsonl").stat().st_mtime_ns == stamp
    assert not (tmp_path / "b.jsonl").exists()


def test_a_winner_rerun_over_seeds_is_written_as_a_recipe_whose_source_gives_the_rerun(tmp_path, monkeypatch, capsys):
    """gan compare --best F.best.json --seeds 0-1 --write-recipes: the winner's configuration becomes the recipe, and
    its source line names the sweep and the rerun's seeds and mean +- std (recomputed here from the run folders)."""
    import shutil
    import statistics

    from gan import recipes
    path = tmp_path / "recipes.json"
    shutil.copy(recipes.RECIPES, path)
    monkeypatch.setattr(recipes, "RECIPES", path)
    fixed = ["--set", "eval_every=8", "--set", "eval_samples=200", "--set", "checkpoint_every=8"]
    assert main(["sweep", "--data", "ring", "--solvers", "simgd", "--grid", "lr=1e-3,2e-3", "--seeds", "0",
                 "--steps", "8", *fixed, "--runs", str(tmp_path / "sweep"), "--out", str(tmp_path / "s.jsonl")]) == 0
    best = json.loads((tmp_path / "s.best.json").read_text())["best"]["simgd"]
    assert main(["compare", "--write-recipes", "--out", str(tmp_path / "r")]) == 2
    assert "give the sweep's .best.json with --best" in capsys.readouterr().err
    runs = tmp_path / "runs"
    assert main(["compare", "--best", str(tmp_path / "s.best.json"), "--solvers", "simgd", "--seeds", "0-1",
                 "--runs", str(runs), "--out", str(tmp_path / "r"), "--no-figures", "--write-recipes"]) == 0
    entry = json.loads(path.read_text())["ring"]["simgd"]
    assert entry["lr"] == best["overrides"]["lr"]
    who = best["generator"]
    modes = [json.loads((runs / f"ring-simgd-seed{s}" / "metrics.jsonl").read_text().splitlines()[-1])[who]["modes"]
             for s in (0, 1)]
    assert entry["source"].startswith("gan sweep on ring: best of 2 configurations {\"lr\": [0.001, 0.002]} over "
                                      "seeds [0] at 8 steps (raw results: s.jsonl), rerun over seeds [0, 1] by gan "
                                      f"compare --best ({who}: modes {statistics.fmean(modes):.4g} +- "
                                      f"{statistics.stdev(modes):.2g}, high quality ")
    assert recipes.recipe("ring", "simgd")["lr"] == best["overrides"]["lr"]  # the file gan train reads

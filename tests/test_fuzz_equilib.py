"""Property-based tests of equilib's public API: whatever the input, a correct result or a
ValueError/TypeError subclass (SolverError, GameError) whose message names the culprit; never
another exception type, never a silent wrong result."""

import math
import warnings

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import equilib as eq

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TWO_PLAYER_ONLY = {"cgd", "acgd"}

odd_values = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 200), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4), st.lists(st.integers(0, 3), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)


@st.composite
def games(draw):
    """A random smooth game: 1-4 players, tensor or dict players of random shapes and dtypes."""
    n = draw(st.integers(1, 4))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    g = torch.Generator().manual_seed(draw(st.integers(0, 10_000)))
    params, names = {}, [f"p{i}" for i in range(n)]
    for name in names:
        shape = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
        t = torch.randn(shape, generator=g, dtype=dtype)
        params[name] = {"w": t, "b": torch.randn(2, generator=g, dtype=dtype)} if draw(st.booleans()) else t
    coupling = torch.randn(n, n, generator=g, dtype=dtype).tolist()

    def flat(v):
        return torch.cat([v["w"].reshape(-1), v["b"]]) if isinstance(v, dict) else v.reshape(-1)

    def losses(p):
        s = [flat(p[k]).sum() for k in names]
        return {k: 0.5 * (flat(p[k]) ** 2).sum() + sum(coupling[i][j] * s[i] * torch.tanh(s[j])
                                                      for j in range(n) if j != i)
                for i, k in enumerate(names)}

    return eq.Game(params, losses)


@FUZZ
@given(game=games(), name=st.sampled_from(sorted(eq.SOLVERS)), lr=st.floats(1e-4, 0.3))
def test_every_solver_on_random_games(game, name, lr):
    before = [t.detach().clone() for t in game.parameters()]
    try:
        solver = eq.make_solver(name, game, lr=lr)
    except eq.SolverError as e:
        assert "player" in str(e) and (name in TWO_PLAYER_ONLY or len(game.players) < 2)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", eq.solvers.KrylovWarning)
        losses = solver.step()
    assert set(losses) == set(game.players)
    after = [t.detach() for t in game.parameters()]
    assert all(a.dtype == b.dtype and a.shape == b.shape for a, b in zip(after, before))
    assert all(torch.isfinite(a).all() for a in after)


@FUZZ
@given(name=st.sampled_from(sorted(eq.SOLVERS)), data=st.data())
def test_solver_options_of_every_type(name, data):
    cls = eq.SOLVERS[name]
    key = data.draw(st.sampled_from(sorted(cls.defaults) or ["gamma"]))
    value = data.draw(odd_values)
    game = eq.games.xy(dtype=torch.float64)
    try:
        solver = eq.make_solver(name, game, lr=0.1, **{key: value})
    except eq.SolverError as e:
        assert key in str(e), (key, value, str(e))
        assert [float(t) for t in game.parameters()] == [1.0, 1.0]  # refused before anything changed
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", eq.solvers.KrylovWarning)
        try:
            solver.step()
        except eq.NonFiniteError:
            return  # a legal but explosive setting: parameters left as they were
    assert all(math.isfinite(float(t)) for t in game.parameters())


@FUZZ
@given(lr=odd_values, optimizer=st.one_of(odd_values, st.sampled_from(["sgd", "adam", "rmsprop", "ADAM"])))
def test_learning_rates_and_optimizers_of_every_type(lr, optimizer):
    try:
        eq.make_solver("simgd", eq.games.xy(), lr=lr, optimizer=optimizer)
    except eq.SolverError as e:
        assert "lr" in str(e) or "optimizer" in str(e), str(e)


bad_losses = st.sampled_from(["vector", "nan", "integer", "no-grad", "python-float", "missing", "extra"])


@FUZZ
@given(kind=bad_losses, name=st.sampled_from(sorted(set(eq.SOLVERS) - TWO_PLAYER_ONLY)))
def test_losses_of_every_wrong_kind(kind, name):
    def losses(p):
        a, b = p["a"], p["b"]
        good = {"a": (a * b).sum() + (a ** 2).sum(), "b": -(a * b).sum() + (b ** 2).sum()}
        if kind == "vector":
            good["b"] = a * b
        elif kind == "nan":
            good["b"] = good["b"] * math.nan
        elif kind == "integer":
            good["b"] = torch.tensor(3)
        elif kind == "no-grad":
            good["b"] = torch.tensor(1.0)
        elif kind == "python-float":
            good["b"] = 1.0
        elif kind == "missing":
            del good["b"]
        else:
            good["c"] = good["a"]
        return good

    game = eq.Game({"a": torch.ones(2), "b": torch.ones(2)}, losses)
    solver = eq.make_solver(name, game, lr=0.1)
    try:
        solver.step()
    except eq.NonFiniteError as e:
        assert kind == "nan" and "player 'b'" in str(e)
    except eq.GameError as e:
        assert kind != "nan"
        assert ("'b'" in str(e)) if kind != "extra" else ("['c']" in str(e))
    else:
        raise AssertionError(f"a {kind} loss was accepted")
    assert [float(t) for t in game.parameters()[0]] == [1.0, 1.0]  # nothing moved


def test_same_seed_same_result_for_every_solver():
    """Determinism on CPU: two runs built from the same seed end bit-identical, for every solver
    (a GAN-like game of modules, a general-sum loss, random batches from a seeded generator)."""
    def run(name):
        torch.manual_seed(7)
        G, D = torch.nn.Linear(2, 2), torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))

        def losses(p, real, z):
            d_fake = p["D"](p["G"](z))
            sp = torch.nn.functional.softplus
            return {"G": sp(-d_fake).mean(), "D": sp(-p["D"](real)).mean() + sp(d_fake).mean()}

        solver = eq.make_solver(name, eq.Game({"G": G, "D": D}, losses), lr=0.05)
        g = torch.Generator().manual_seed(3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", eq.solvers.KrylovWarning)
            for _ in range(4):
                solver.step(torch.randn(16, 2, generator=g), torch.randn(16, 2, generator=g))
        return torch.cat([t.detach().reshape(-1) for t in solver.game.parameters()])

    for name in sorted(eq.SOLVERS):
        first, second = run(name), run(name)
        assert torch.equal(first, second), name

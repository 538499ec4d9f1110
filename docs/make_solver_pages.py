"""One documentation page per solver, generated from the code itself.

The site builds them at every ``mkdocs build`` (docs/hooks.py calls :func:`pages`);
to read them without building the site:

    python docs/make_solver_pages.py OUT_DIR     # writes OUT_DIR/<name>.md for every solver

Everything on a page but the paper reference and the one-line "when it converges" note is
taken from the code when the pages are made: the update rule is the solver class's docstring,
the options table is the class's ``defaults`` with the error the solver raises for an invalid
value (so the allowed values are the ones the code checks), the cost is counted while the
solver steps (gradient evaluations, backward passes and Jacobian products per step), and the
step sizes at which it converges on x*y come from ``equilib.diagnostics.step_size_scan``.
"""

from __future__ import annotations

import inspect
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

import equilib as eq
from equilib import diagnostics as dg
from equilib.compare.run import counting

STEPS = 10
PRODUCTS = ("jvp", "vjp", "jvp_forward", "block_jvp", "block_vjp")

PAPERS = {
    "simgd": "Simultaneous gradient descent; its divergence on bilinear games: Gidel, Berard, Vignoud, Vincent and "
             "Lacoste-Julien, *A Variational Inequality Perspective on Generative Adversarial Networks*, ICLR 2019.",
    "altgd": "Alternating gradient descent; its cycling on bilinear games: Gidel, Hemmat, Pezeshki, Le Priol, Huang, "
             "Lacoste-Julien and Mitliagkas, *Negative Momentum for Improved Game Dynamics*, AISTATS 2019.",
    "extragradient": "Korpelevich, *The extragradient method for finding saddle points and other problems*, "
                     "Ekonomika i Matematicheskie Metody 12, 1976; for GANs: Gidel et al., ICLR 2019.",
    "optimistic": "Popov, *A modification of the Arrow-Hurwicz method for search of saddle points*, "
                  "Mathematical Notes 28, 1980; Daskalakis, Ilyas, Syrgkanis and Zeng, "
                  "*Training GANs with Optimism*, ICLR 2018.",
    "consensus": "Mescheder, Nowozin and Geiger, *The Numerics of GANs*, NeurIPS 2017.",
    "unrolled": "Metz, Poole, Pfau and Sohl-Dickstein, *Unrolled Generative Adversarial Networks*, ICLR 2017.",
    "sga": "Balduzzi, Racaniere, Martens, Foerster, Tuyls and Graepel, *The Mechanics of n-Player Differentiable "
           "Games*, ICML 2018.",
    "cgd": "Schaefer and Anandkumar, *Competitive Gradient Descent*, NeurIPS 2019.",
    "acgd": "Schaefer, Zheng and Anandkumar, *Implicit competitive regularization in GANs*, ICML 2020.",
    "hamiltonian": "Balduzzi et al., ICML 2018; Abernethy, Lai and Wibisono, *Last-iterate convergence rates for "
                   "min-max optimization*, 2019.",
    "lola": "Foerster, Chen, Al-Shedivat, Whiteson, Abbeel and Mordatch, *Learning with Opponent-Learning "
            "Awareness*, AAMAS 2018 (in the notation of Letcher et al., ICLR 2019).",
    "sos": "Letcher, Foerster, Balduzzi, Rocktaeschel and Whiteson, *Stable Opponent Shaping in Differentiable "
           "Games*, ICLR 2019.",
}

WHEN = {
    "simgd": "Only where J's eigenvalues have real parts large enough against the step size "
             "(|1 - eta mu| < 1 for every eigenvalue mu); never on purely rotational games such as x*y.",
    "altgd": "Bounded cycles on bilinear games for eta < 2; converges on strongly monotone games at small eta.",
    "extragradient": "Every monotone game at a small enough step size, bilinear ones included.",
    "optimistic": "Like extragradient on bilinear and monotone games, with one gradient per step.",
    "consensus": "Where the Hamiltonian's gradient J^T xi pulls strongly enough towards xi = 0; "
                 "it can also be attracted to points where xi is not zero.",
    "unrolled": "On x*y at small step sizes; in general it changes the first player's objective, "
                "so its fixed points need not be Nash equilibria of a general-sum game.",
    "sga": "Near stable fixed points it keeps them and removes the rotation (Balduzzi et al. 2018).",
    "cgd": "Bilinear zero-sum games at every step size (the proximal point step); two players only.",
    "acgd": "As cgd, with per-coordinate step sizes; its preconditioner keeps changing, so no fixed "
            "update map predicts it and the diagnostics refuse it.",
    "hamiltonian": "Wherever H = |xi|^2/2 has no other critical points (e.g. bilinear games); "
                   "it ignores the players' own objectives.",
    "lola": "Converges on x*y at small step sizes, but may move fixed points away from the Nash equilibria "
            "(on Tandem it settles at x + y = 4/3).",
    "sos": "Keeps LOLA's shaping away from fixed points and look-ahead's convergence near them.",
}


@contextmanager
def counting_products(counter: dict):
    """Count the outermost calls of the Field's Jacobian products while inside."""
    originals = {name: getattr(eq.Field, name) for name in PRODUCTS}
    depth = [0]

    def wrap(original):
        def method(*args, **kwargs):
            depth[0] += 1
            try:
                return original(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    counter["products"] += 1
        return method

    for name, original in originals.items():
        setattr(eq.Field, name, wrap(original))
    try:
        yield counter
    finally:
        for name, original in originals.items():
            setattr(eq.Field, name, original)


def general_sum_game() -> eq.Game:
    M = torch.tensor([[1.0, 0.5, 2.0, 0.0], [0.5, 1.0, 0.0, 1.5], [-1.0, 0.5, 1.0, 0.0], [0.0, -1.0, 0.0, 1.0]])
    return eq.games.quadratic(M, sizes=(2, 2), theta0=torch.ones(4), dtype=torch.float64)


def cost(name: str, game: eq.Game) -> str:
    counter = {"evals": 0, "backward": 0, "products": 0}
    solver = eq.make_solver(name, game, lr=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with counting(game, counter), counting_products(counter):
            for _ in range(STEPS):
                solver.step()
    per = {k: v / STEPS for k, v in counter.items()}
    return f"{per['evals']:g} | {per['backward']:g} | {per['products']:g}"


def option_rows(cls: type) -> list[str]:
    rows = []
    for option, default in cls.defaults.items():
        try:
            eq.make_solver(cls.name, eq.games.xy(dtype=torch.float64), lr=0.1, **{option: "not-a-value"})
            allowed = "(any value accepted)"
        except (eq.SolverError, eq.GameError) as exc:
            allowed = str(exc).replace("|", "\\|")
        rows.append(f"| `{option}` | `{default!r}` | {allowed} |")
    return rows


def convergence_on_xy(name: str) -> str:
    etas = np.round(np.linspace(0.02, 1.6, 80), 4)
    try:
        scan = dg.step_size_scan(eq.games.xy(dtype=torch.float64), [name], etas)
    except dg.DiagnosticsError as exc:
        return f"No update map: the diagnostics say: {exc}"
    rho = scan.rho[name]
    conv = scan.converging(name)
    best_eta, best_rho = scan.best(name)
    span = (f"predicted to converge for eta in [{conv.min():.2f}, {conv.max():.2f}] of the 80 step sizes "
            f"scanned in [0.02, 1.6]" if len(conv) else "predicted to converge at none of the 80 step sizes "
            "scanned in [0.02, 1.6]")
    return (f"On x*y: {span}; smallest rho {best_rho:.4f} at eta = {best_eta:.2f}; "
            f"rho = {rho[np.argmin(abs(etas - 0.1))]:.6f} at eta = 0.1.")


def common_options() -> str:
    params = inspect.signature(eq.Solver.__init__).parameters
    names = [p for p in params if p not in ("self", "game", "options")]
    return ", ".join(f"`{p}`" for p in names)


def page(name: str) -> str:
    cls = eq.SOLVERS[name]
    doc = inspect.cleandoc(cls.__doc__ or "")
    two_player = name in ("cgd", "acgd")
    lines = [
        f"# `{name}`: {doc.splitlines()[0]}",
        "",
        "<!-- generated by docs/make_solver_pages.py from the code: do not edit -->",
        "",
        f"`eq.make_solver(\"{name}\", game, lr=...)` or `eq.solvers.{cls.__name__}(game, lr=...)`.",
        "",
        "## Update rule",
        "",
        "From the class docstring (notation: xi the simultaneous gradient, J = d xi / d theta, eta the step size):",
        "",
        "```text",
        doc,
        "```",
        "",
        f"**Paper**: {PAPERS[name]}",
        "",
        "## Cost per step",
        "",
        f"Counted while the solver takes {STEPS} steps with plain SGD, lr 0.1 (gradient evaluations are calls "
        "of the game's losses; backward passes are `torch.autograd.grad` calls; Jacobian products are calls of "
        "`Field.jvp`, `vjp`, `jvp_forward`, `block_jvp` and `block_vjp`):",
        "",
        "| game | gradient evaluations | backward passes | Jacobian products |",
        "|---|---|---|---|",
        f"| x*y (`ZeroSumGame`, 1 + 1 parameters) | {cost(name, eq.games.xy(dtype=torch.float64))} |",
        f"| general-sum quadratic (`eq.games.quadratic`, 2 + 2) | {cost(name, general_sum_game())} |",
    ]
    if not two_player:
        lines.append(f"| 3-player cyclic game (`eq.games.cyclic`, 1 + 1 + 1) | "
                     f"{cost(name, eq.games.cyclic(dtype=torch.float64))} |")
    if name in ("cgd", "acgd"):
        lines += ["", "The Krylov solve takes two products per iteration, so the count grows with the "
                      "iterations the solve needs (`solver.last_info`)."]
    lines += [
        "",
        "## When it converges",
        "",
        WHEN[name],
        "",
        convergence_on_xy(name),
        "",
        "## Options",
        "",
    ]
    rows = option_rows(cls)
    if rows:
        lines += ["| option | default | allowed values (the error for an invalid one) |", "|---|---|---|", *rows]
    else:
        lines.append(f"`{name}` has no options of its own.")
    lines += ["", f"Every solver also takes {common_options()} (see the [solvers overview](../solvers.md)).", ""]
    return "\n".join(lines)


def pages() -> dict[str, str]:
    """{solver name: page text} for every solver in ``equilib.SOLVERS``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return {name: page(name) for name in eq.SOLVERS}
    finally:
        torch.set_num_threads(threads)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python docs/make_solver_pages.py OUT_DIR", file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for name, text in pages().items():
        (out / f"{name}.md").write_text(text)
    print(f"wrote {len(eq.SOLVERS)} pages in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

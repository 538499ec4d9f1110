"""Eigenvalues of the game Jacobian, dense or matrix-free, and its potential/rotational parts.

Continuous gradient play d theta/dt = -xi is locally stable at an equilibrium when every
eigenvalue of J has a positive real part; the imaginary parts measure rotation. On x*y,
J = [[0, 1], [-1, 0]] has eigenvalues +i and -i: pure rotation. Matrix-free eigenvalues
use Arnoldi (ARPACK through ``scipy.sparse.linalg.eigs``) over a ``LinearOperator`` whose
matvec is the Jacobian-vector product ``Field.jvp`` (J is not symmetric, so Lanczos does
not apply). Decomposition after Balduzzi et al. 2018: J = S + A with S = (J + J^T)/2 the
potential part and A = (J - J^T)/2 the Hamiltonian (rotational) part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse.linalg as sla
import torch
from torch import Tensor

from equilib import vec
from equilib.diagnostics.errors import ArnoldiNoConvergence, DiagnosticsError
from equilib.diagnostics.jacobian import check_field, check_finite, jacobian, preserved
from equilib.field import Field
from equilib.game import Game

__all__ = ["WHICH", "eigenvalues", "rotation_estimate", "jacobian_operator", "arnoldi", "Decomposition", "decompose", "sort_eigenvalues"]

WHICH = {
    "LM": "largest magnitude",
    "LR": "largest real part",
    "SR": "smallest real part",
    "LI": "largest (most positive) imaginary part",
    "SI": "smallest (most negative) imaginary part",
}


def check_which(which: str) -> str:
    if not isinstance(which, str) or which.upper() not in WHICH:
        allowed = ", ".join(f"{k} ({v})" for k, v in WHICH.items())
        raise DiagnosticsError(f"unknown which={which!r}; allowed codes: {allowed}")
    return which.upper()


def check_k(k, n: int, what: str = "the game") -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise DiagnosticsError(f"k must be an integer >= 1 (or None for all eigenvalues), got {k!r}")
    if k >= n - 1:
        raise DiagnosticsError(
            f"k={k} is too large: {what} has {n} parameters and Arnoldi finds at most {n - 2} "
            f"eigenvalues (k < n - 1); use k=None for all {n} eigenvalues (dense)"
        )
    return k


def sort_eigenvalues(values: Tensor, which: str = "LM") -> Tensor:
    """Order complex eigenvalues best first for ``which`` (ties: by real, then imaginary part)."""
    values = values.to(torch.complex128)
    return values[_order(values, which)]


class _CountingOperator(sla.LinearOperator):
    """A float64 scipy LinearOperator that counts its matvecs."""

    def __init__(self, n: int, fn: Callable[[np.ndarray], np.ndarray]):
        super().__init__(dtype=np.float64, shape=(n, n))
        self.fn = fn
        self.matvecs = 0

    def _matvec(self, x):
        self.matvecs += 1
        return self.fn(np.asarray(x, dtype=np.float64).reshape(-1))


class _RotatedOperator(sla.LinearOperator):
    """-i A on complex vectors, for a real operator A: its eigenvalues' real parts are A's imaginary parts.

    Arnoldi for the largest (smallest) real part of -i A finds A's eigenvalues with the largest
    (smallest) signed imaginary part; on the real A ARPACK pairs conjugates and cannot tell them apart.
    """

    def __init__(self, real: _CountingOperator):
        super().__init__(dtype=np.complex128, shape=real.shape)
        self.real = real

    @property
    def matvecs(self) -> int:
        return self.real.matvecs

    def _matvec(self, x):
        x = np.asarray(x, dtype=np.complex128).reshape(-1)
        out = np.zeros(x.shape, dtype=np.complex128)
        if x.real.any():
            out += self.real.matvec(x.real.copy())
        if x.imag.any():
            out += 1j * self.real.matvec(x.imag.copy())
        return -1j * out


def jacobian_operator(field: Field) -> _CountingOperator:
    """J as a scipy ``LinearOperator`` (float64) whose matvec is ``field.jvp`` (``create_graph=True``).

    Its ``matvecs`` attribute counts the Jacobian-vector products made.
    """
    game = field.game
    like = vec.detach(field.xi)
    n = sum(t.numel() for t in like)

    def matvec(x: np.ndarray) -> np.ndarray:
        v = vec.unflatten(torch.from_numpy(x).to(dtype=like[0].dtype, device=like[0].device), like)
        out = vec.flatten(vec.detach(field.jvp(v))).to(torch.float64)
        check_finite(game, out, "a Jacobian-vector product J v")
        return out.cpu().numpy()

    return _CountingOperator(n, matvec)


def arnoldi(op: sla.LinearOperator, k: int, which: str, tol: float = 0.0, maxiter: int | None = None,
            ncv: int | None = None, seed: int = 0, return_eigenvectors: bool = False):
    """k eigenvalues of ``op`` by ARPACK's implicitly restarted Arnoldi; clear error if it does not converge."""
    n = op.shape[0]
    v0 = np.random.default_rng(seed).standard_normal(n)
    maxiter = maxiter if maxiter is not None else min(10 * n, 1000)
    try:
        out = sla.eigs(op, k=k, which=which, tol=tol, maxiter=maxiter, ncv=ncv, v0=v0,
                       return_eigenvectors=return_eigenvectors)
    except sla.ArpackNoConvergence as e:
        raise ArnoldiNoConvergence(k, torch.from_numpy(np.asarray(e.eigenvalues, dtype=np.complex128)),
                                   getattr(op, "matvecs", -1), maxiter) from None
    return out


def arnoldi_jacobian(op: _CountingOperator, k: int, which: str, tol: float = 0.0, maxiter: int | None = None,
                     ncv: int | None = None, seed: int = 0, return_eigenvectors: bool = False):
    """k eigenvalues of the real operator ``op`` selected by ``which`` (LI/SI through -i op)."""
    if which in ("LI", "SI"):
        out = arnoldi(_RotatedOperator(op), k, "LR" if which == "LI" else "SR", tol, maxiter, ncv, seed,
                      return_eigenvectors)
        return (1j * out[0], out[1]) if return_eigenvectors else 1j * out  # lambda = i mu
    return arnoldi(op, k, which, tol, maxiter, ncv, seed, return_eigenvectors)


def eigenvalues(game: Game, *args, k: int | None = None, which: str = "LM", tol: float = 0.0,
                maxiter: int | None = None, ncv: int | None = None, seed: int = 0,
                eval_mode: bool = False, max_bytes: int | None = None,
                return_eigenvectors: bool = False, info: dict | None = None):
    """Eigenvalues of the game Jacobian J at the current parameters, as a complex128 tensor.

    ``k=None``: all d eigenvalues from the dense J (:func:`jacobian`, then LAPACK), sorted by
    ``which``. ``k``: the k eigenvalues selected by ``which`` (LM, LR, SR, LI, SI: scipy's
    codes) computed matrix-free by Arnoldi over Jacobian-vector products, so J is never
    stored; ``tol``, ``maxiter``, ``ncv`` go to ``scipy.sparse.linalg.eigs`` and ``seed`` fixes
    its start vector. LI and SI run Arnoldi on -i J (complex; two real products per step), since
    ARPACK on the real J pairs conjugates. ``return_eigenvectors`` also returns the (d, k) complex eigenvectors
    (flattened parameter order). ``info`` (a dict) receives ``matvecs``, the number of
    Jacobian-vector products. Raises :class:`ArnoldiNoConvergence` (with the converged ones)
    instead of returning unconverged values.
    """
    which = check_which(which)
    d = game.num_parameters()
    if k is None:
        J = jacobian(game, *args, eval_mode=eval_mode, max_bytes=max_bytes).to(torch.float64)
        if info is not None:
            info["matvecs"] = 0
        if return_eigenvectors:
            values, vectors = torch.linalg.eig(J)
            order = _order(values, which)
            return values[order], vectors[:, order]
        return sort_eigenvalues(torch.linalg.eigvals(J), which)
    k = check_k(k, d)
    with preserved(game, eval_mode):
        field = Field(game, args, create_graph=True)
        check_field(game, field)
        op = jacobian_operator(field)
        out = arnoldi_jacobian(op, k, which, tol, maxiter, ncv, seed, return_eigenvectors)
    if info is not None:
        info["matvecs"] = op.matvecs
    if return_eigenvectors:
        values, vectors = out
        order = _order(torch.from_numpy(values), which)
        return torch.from_numpy(values)[order], torch.from_numpy(vectors)[:, order]
    return sort_eigenvalues(torch.from_numpy(out), which)


def _order(values: Tensor, which: str) -> Tensor:
    v = values.to(torch.complex128).numpy()
    key = {"LM": -np.abs(v), "LR": -v.real, "SR": v.real, "LI": -v.imag, "SI": v.imag}[which]
    return torch.from_numpy(np.lexsort((v.imag, v.real, np.round(key, 12))).copy())


@dataclass
class Decomposition:
    """J = S + A at one point (Balduzzi et al. 2018).

    ``symmetric`` S = (J + J^T)/2 (potential part; S = J for potential games),
    ``antisymmetric`` A = (J - J^T)/2 (Hamiltonian part; A = J for Hamiltonian games such as x*y).
    ``rotation`` = |A|_F^2 / |J|_F^2 in [0, 1] (S and A are Frobenius-orthogonal, so
    |J|_F^2 = |S|_F^2 + |A|_F^2): 0 for a potential game, 1 for a purely rotational one.
    ``symmetric_eigenvalues`` are S's (real, ascending): all > 0 means the game is locally
    strongly monotone, which implies every eigenvalue of J has a positive real part.
    ``eigenvalues`` are J's; ``max_rotation_angle`` the largest |arg(lambda)| (radians; pi/2 for
    imaginary eigenvalues, < pi/2 exactly when every real part is positive);
    ``stable``: every eigenvalue has a positive real part (continuous-time local stability).
    """

    jacobian: Tensor
    symmetric: Tensor
    antisymmetric: Tensor
    rotation: float
    symmetric_eigenvalues: Tensor
    eigenvalues: Tensor
    max_rotation_angle: float
    stable: bool

    def summary(self) -> dict:
        """Scalars only, for logs."""
        return {
            "rotation": self.rotation,
            "min_symmetric_eigenvalue": float(self.symmetric_eigenvalues[0]),
            "max_symmetric_eigenvalue": float(self.symmetric_eigenvalues[-1]),
            "min_real_eigenvalue": float(self.eigenvalues.real.min()),
            "max_abs_imag_eigenvalue": float(self.eigenvalues.imag.abs().max()),
            "max_rotation_angle": self.max_rotation_angle,
            "stable": self.stable,
            "monotone": bool(self.symmetric_eigenvalues[0] > 0),
        }


def decompose(game_or_jacobian: Game | Tensor, *args, eval_mode: bool = False,
              max_bytes: int | None = None) -> Decomposition:
    """Split J (dense; given, or computed from a game at its current point) into S + A, with a summary."""
    if isinstance(game_or_jacobian, Game):
        J = jacobian(game_or_jacobian, *args, eval_mode=eval_mode, max_bytes=max_bytes)
    elif isinstance(game_or_jacobian, Tensor) and game_or_jacobian.dim() == 2 \
            and game_or_jacobian.shape[0] == game_or_jacobian.shape[1]:
        J = game_or_jacobian
    else:
        raise DiagnosticsError("decompose takes an equilib.Game or a square Jacobian matrix (2-D tensor), "
                               f"got {type(game_or_jacobian).__name__}")
    J = J.to(torch.float64)
    S, A = (J + J.T) / 2, (J - J.T) / 2
    total = float((J * J).sum())
    rotation = float((A * A).sum()) / total if total > 0 else 0.0
    ev = torch.linalg.eigvals(J)
    angle = float(torch.angle(ev).abs().max()) if len(ev) else 0.0
    # |arg| of a negative real eigenvalue is pi, of a zero one 0: zero counts as not stable
    stable = bool((ev.real > 0).all())
    return Decomposition(J, S, A, rotation, torch.linalg.eigvalsh(S), sort_eigenvalues(ev, "LM"), angle, stable)


def rotation_estimate(game: Game, *args, samples: int = 10, seed: int = 0, eval_mode: bool = False,
                      info: dict | None = None) -> float:
    """Matrix-free estimate of ``Decomposition.rotation`` = |A|_F^2 / |J|_F^2 for large games.

    Hutchinson: for Rademacher v, E|J v|^2 = |J|_F^2 and E|A v|^2 = |A|_F^2 with
    A v = (J v - J^T v)/2; the same ``samples`` vectors serve both (2 products each).
    """
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise DiagnosticsError(f"samples must be an integer >= 1, got {samples!r}")
    with preserved(game, eval_mode):
        field = Field(game, args, create_graph=True)
    check_field(game, field)
    like = vec.detach(field.xi)
    g = torch.Generator().manual_seed(seed)
    total = antisym = 0.0
    for _ in range(samples):
        v = [(torch.randint(0, 2, t.shape, generator=g) * 2 - 1).to(dtype=t.dtype, device=t.device) for t in like]
        jv, jtv = vec.detach(field.jvp(v)), vec.detach(field.vjp(v))
        check_finite(game, vec.flatten(jv).double(), "a Jacobian-vector product J v")
        total += float(vec.dot(jv, jv))
        av = [(a - b) / 2 for a, b in zip(jv, jtv)]
        antisym += float(vec.dot(av, av))
    if info is not None:
        info["products"] = 2 * samples
    return antisym / total if total > 0 else 0.0

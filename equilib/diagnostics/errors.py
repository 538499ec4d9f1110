"""Errors raised by :mod:`equilib.diagnostics` (both are ``ValueError`` subclasses)."""

from __future__ import annotations

__all__ = ["DiagnosticsError", "NonFiniteJacobianError", "ArnoldiNoConvergence"]


class DiagnosticsError(ValueError):
    """A diagnostic was asked for something it cannot do (bad argument, too large, ...)."""


class NonFiniteJacobianError(DiagnosticsError):
    """NaN or Inf met while computing xi or a Jacobian product; ``player`` names the block."""

    def __init__(self, player: str, what: str):
        self.player, self.what = player, what
        super().__init__(f"non-finite entries in {what} in the block of player {player!r}; "
                         "the diagnostics need a point where every loss and gradient is finite")


class ArnoldiNoConvergence(DiagnosticsError):
    """Arnoldi (ARPACK) did not converge; ``converged`` holds the eigenvalues that did."""

    def __init__(self, k: int, converged, matvecs: int, maxiter: int):
        self.k, self.converged, self.matvecs = k, converged, matvecs
        super().__init__(
            f"Arnoldi did not converge: only {len(converged)} of the k={k} requested eigenvalues "
            f"converged after {matvecs} matrix-vector products (maxiter={maxiter}); raise maxiter, "
            "loosen tol, raise ncv, or ask for fewer eigenvalues"
        )

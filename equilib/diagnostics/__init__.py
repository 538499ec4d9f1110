"""Convergence diagnostics from the eigenvalues of the game Jacobian J = d xi / d theta.

- :func:`jacobian`: the dense J (small games); :func:`eigenvalues`: all of them (dense) or k of
  them matrix-free by Arnoldi; :func:`decompose`: J = S + A (potential + rotational parts);
  :func:`rotation_estimate`: its rotational share, matrix-free.
- :func:`update_map` / :func:`spectral_radius`: the Jacobian of a solver's one-step map and its
  spectral radius (below 1: locally convergent, and the contraction factor per step).
- :func:`step_size_scan`: predicted contraction as a function of the step size, per solver.
- :class:`Recorder`: eigenvalues, spectral radius, gradient norms, distance moved and the
  path-angle, every N steps of a training loop.
- Plots (matplotlib, imported on first use): :func:`plot_eigenvalues`, :func:`plot_step_size_scan`,
  :func:`plot_trajectory`.
"""

from equilib.diagnostics.errors import ArnoldiNoConvergence, DiagnosticsError, NonFiniteJacobianError
from equilib.diagnostics.jacobian import jacobian
from equilib.diagnostics.spectrum import WHICH, Decomposition, decompose, eigenvalues, jacobian_operator, \
    rotation_estimate
from equilib.diagnostics.recorder import Recorder, path_angle
from equilib.diagnostics.scan import ScanResult, step_size_scan
from equilib.diagnostics.update_maps import spectral_radius, update_map

__all__ = [
    "jacobian", "eigenvalues", "decompose", "Decomposition", "rotation_estimate", "jacobian_operator", "WHICH",
    "update_map", "spectral_radius", "step_size_scan", "ScanResult", "Recorder", "path_angle",
    "plot_eigenvalues", "plot_step_size_scan", "plot_trajectory",
    "DiagnosticsError", "NonFiniteJacobianError", "ArnoldiNoConvergence",
]


def __getattr__(name):  # the plots import matplotlib only when first used
    if name in ("plot_eigenvalues", "plot_step_size_scan", "plot_trajectory"):
        from equilib.diagnostics import plots
        return getattr(plots, name)
    raise AttributeError(f"module 'equilib.diagnostics' has no attribute {name!r}")

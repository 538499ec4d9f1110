"""Consensus optimization, the Hamiltonian descent and symplectic gradient adjustment.

All three correct xi with products of its Jacobian J at the same point.
"""

from __future__ import annotations

import torch

from equilib import vec
from equilib.errors import SolverError
from equilib.solvers.base import Solver, check_number


def _nonneg(solver, key):
    check_number(key, solver.options[key], at_least=0)


class Consensus(Solver):
    """Consensus optimization (Mescheder et al. 2017).

    theta <- theta - eta * (xi + gamma * J^T xi); J^T xi is the gradient of
    the Hamiltonian H = |xi|^2 / 2.
    """

    name = "consensus"
    second_order = True
    defaults = {"gamma": 1.0}

    def _check_options(self):
        _nonneg(self, "gamma")

    def _direction(self, args):
        f = self.field(args, create_graph=True)
        xi = vec.detach(f.xi)
        return f.losses, vec.add(xi, f.vjp(xi), alpha=self.options["gamma"])

    def direction_map(self, P):
        """L = J + gamma J^T J (J frozen): with plain SGD, M = I - D (J + gamma J^T J)."""
        gamma = float(self.options["gamma"])

        def L(V):
            JV = P.J(V)
            return JV + gamma * P.JT(JV)
        return L


class Hamiltonian(Solver):
    """Hamiltonian gradient descent (Balduzzi et al. 2018; Abernethy et al. 2019).

    theta <- theta - eta * J^T xi: gradient descent on H = |xi|^2 / 2.
    """

    name = "hamiltonian"
    second_order = True

    def _direction(self, args):
        f = self.field(args, create_graph=True)
        return f.losses, f.vjp(vec.detach(f.xi))

    def direction_map(self, P):
        """L = J^T J: with plain SGD, M = I - D J^T J."""
        return lambda V: P.JT(P.J(V))


class SGA(Solver):
    """Symplectic gradient adjustment (Balduzzi et al. 2018).

    theta <- theta - eta * (xi + lam * A^T xi), A = (J - J^T) / 2. With ``align``
    (the paper's sign alignment), lam <- lam * sign(<xi, J^T xi> <A^T xi, J^T xi> / d + eps),
    d the number of parameters.
    """

    name = "sga"
    second_order = True
    defaults = {"lam": 1.0, "align": True, "eps": 0.1}
    _forward_ad = True  # False once the game's losses turned out to lack a forward-mode derivative

    def _check_options(self):
        _nonneg(self, "lam")
        _nonneg(self, "eps")
        if not isinstance(self.options["align"], bool):
            raise SolverError(f"align must be True or False, got {self.options['align']!r}")

    def aligned_lam(self, xi_jt, at_jt) -> float:
        """lam, or with ``align`` lam * sign(<xi, J^T xi> <A^T xi, J^T xi> / d + eps), from the two inner products."""
        lam = self.options["lam"]
        if not self.options["align"]:
            return lam
        s = xi_jt * at_jt / self.game.num_parameters() + self.options["eps"]
        return lam * float(torch.sign(torch.as_tensor(s)))

    def _direction(self, args):
        f = self.field(args, create_graph=True)
        xi = vec.detach(f.xi)
        jt = f.vjp(xi)
        jv = self._jv(f, xi)
        at = vec.scale(vec.add(jt, jv, alpha=-1.0), 0.5)
        lam = self.aligned_lam(vec.dot(xi, jt), vec.dot(at, jt)) if self.options["align"] else self.options["lam"]
        return f.losses, vec.add(xi, at, alpha=lam)

    def _jv(self, f, xi):
        """J xi by the cheaper path for one product (measured, docs/performance.md): one backward pass
        in a two-player zero-sum game, else forward over reverse; double backward where an op of the
        losses has no forward-mode derivative (spectral norm's F.normalize), remembered after the first try."""
        if f.zero_sum or not self._forward_ad:
            return f.jvp(xi)
        try:
            return f.jvp_forward(xi)
        except NotImplementedError:  # raised by the op before any state changes (module buffers are copies)
            self._forward_ad = False
            return f.jvp(xi)

    def direction_map(self, P):
        """L = J + lam' A^T J, A^T = (J^T - J)/2, lam' aligned as the solver does at this point (held fixed)."""
        lam = float(self.options["lam"])
        if self.options["align"]:
            xi = P.xi[:, None]
            jt, jx = P.JT(xi), P.J(xi)
            lam = self.aligned_lam((xi * jt).sum(), ((jt - jx) / 2 * jt).sum())

        def L(V):
            JV = P.J(V)
            return JV + lam * (P.JT(JV) - P.J(JV)) / 2
        return L

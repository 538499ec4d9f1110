"""Hand-written plain-PyTorch steps of each method, the baseline for equilib's overhead.

Written the way a researcher writes them in a training script: torch.autograd.grad on
the two networks, torch.optim.SGD for the step. No equilib code.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

import equilib as eq

F = nn.functional


class Setup:
    """A 2-player MLP GAN game of about 100k parameters and a fixed batch."""

    def __init__(self, seed=0, batch=256, latent=64):
        torch.manual_seed(seed)
        self.G = nn.Sequential(nn.Linear(latent, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 2))
        self.D = nn.Sequential(nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 1))
        self.z = torch.randn(batch, latent)
        self.real = torch.randn(batch, 2)
        self.gp, self.dp = list(self.G.parameters()), list(self.D.parameters())

    def losses(self, G, D):
        d_fake = D(G(self.z))
        return F.softplus(-d_fake).mean(), F.softplus(-D(self.real)).mean() + F.softplus(d_fake).mean()

    def equilib_losses(self, p, real):
        d_fake = p["D"](p["G"](self.z))
        return {"G": F.softplus(-d_fake).mean(), "D": F.softplus(-p["D"](real)).mean() + F.softplus(d_fake).mean()}


def _set_grads(params, grads):
    for p, g in zip(params, grads):
        p.grad = g


def _fields(s, create_graph=False):
    lg, ld = s.losses(s.G, s.D)
    gg = torch.autograd.grad(lg, s.gp, retain_graph=True, create_graph=create_graph)
    gd = torch.autograd.grad(ld, s.dp, retain_graph=create_graph, create_graph=create_graph)
    return list(gg) + list(gd)


class Handwritten:
    def __init__(self, s: Setup, lr=1e-3):
        self.s = s
        self.params = s.gp + s.dp
        self.opt = torch.optim.SGD(self.params, lr=lr)
        self.lr = lr
        self.prev = None

    def _step_with(self, direction):
        _set_grads(self.params, [d.detach() for d in direction])
        self.opt.step()

    def simgd(self):
        self._step_with(_fields(self.s))

    def altgd(self):
        s = self.s
        _, ld = s.losses(s.G, s.D)
        _set_grads(s.dp, torch.autograd.grad(ld, s.dp))
        self.opt.step()
        for p in s.dp:
            p.grad = None
        lg, _ = s.losses(s.G, s.D)
        _set_grads(s.gp, torch.autograd.grad(lg, s.gp))
        self.opt.step()
        for p in s.gp:
            p.grad = None

    def extragradient(self):
        saved = [p.detach().clone() for p in self.params]
        self._step_with(_fields(self.s))
        xi_half = _fields(self.s)
        with torch.no_grad():
            for p, v in zip(self.params, saved):
                p.copy_(v)
        self._step_with(xi_half)

    def optimistic(self):
        xi = _fields(self.s)
        prev = xi if self.prev is None else self.prev
        self._step_with([2 * a - b for a, b in zip(xi, prev)])
        self.prev = xi

    def _xi_and_jt(self):
        xi = _fields(self.s, create_graph=True)
        v = [x.detach() for x in xi]
        return xi, v, torch.autograd.grad(xi, self.params, grad_outputs=v, retain_graph=True)

    def consensus(self, gamma=1.0):
        _, v, jt = self._xi_and_jt()
        self._step_with([a + gamma * b for a, b in zip(v, jt)])

    def hamiltonian(self):
        _, _, jt = self._xi_and_jt()
        self._step_with(jt)

    def sga(self, lam=1.0):
        """J^T xi by one backward pass, J xi by forward over reverse (torch.autograd.forward_ad: the
        losses and gradients once more with dual parameters), its cheapest form for one product."""
        import torch.autograd.forward_ad as fwad
        s = self.s
        xi, v, jt = self._xi_and_jt()
        gnames = [n for n, _ in s.G.named_parameters()]
        dnames = [n for n, _ in s.D.named_parameters()]
        nG = len(s.gp)
        with fwad.dual_level():
            prim = [p.detach().requires_grad_(True) for p in self.params]
            duals = [fwad.make_dual(p, t) for p, t in zip(prim, v)]
            G = lambda z: functional_call(s.G, dict(zip(gnames, duals[:nG])), (z,))  # noqa: E731
            D = lambda x: functional_call(s.D, dict(zip(dnames, duals[nG:])), (x,))  # noqa: E731
            lg, ld = s.losses(G, D)
            gg = torch.autograd.grad(lg, duals[:nG], retain_graph=True)
            gd = torch.autograd.grad(ld, duals[nG:])
            jv = [fwad.unpack_dual(g).tangent for g in gg + gd]
        at = [(a - b) / 2 for a, b in zip(jt, jv)]
        d = sum(p.numel() for p in self.params)
        dot = lambda a, b: sum((x * y).sum() for x, y in zip(a, b))  # noqa: E731
        sign = torch.sign(dot(v, jt) * dot(at, jt) / d + 0.1)
        self._step_with([a + lam * sign * b for a, b in zip(v, at)])

    def unrolled(self, k=5):
        s = self.s
        names = [n for n, _ in s.D.named_parameters()]
        gnames = [n for n, _ in s.G.named_parameters()]
        lg, ld = s.losses(s.G, s.D)
        gd = torch.autograd.grad(ld, s.dp, retain_graph=True)
        phi = list(s.dp)
        gpar = dict(zip(gnames, s.gp))
        G = lambda z: functional_call(s.G, gpar, (z,))
        for _ in range(k):
            D = lambda x, phi=phi: functional_call(s.D, dict(zip(names, phi)), (x,))
            _, ldk = s.losses(G, D)
            g = torch.autograd.grad(ldk, phi, create_graph=True)
            phi = [p - self.lr * q for p, q in zip(phi, g)]
        D = lambda x: functional_call(s.D, dict(zip(names, phi)), (x,))
        lgk, _ = s.losses(G, D)
        gg = torch.autograd.grad(lgk, s.gp)
        self._step_with(list(gg) + list(gd))

    def cgd(self, max_iter=10):
        """CGD on the general-sum GAN game: GMRES with exactly ``max_iter`` iterations
        (equilib's cgd with tol ~ 0 does the same work). Its cheapest hand-written form (the
        CGDs package's): the cross gradients grad_D L_G and grad_G L_D once, then each mixed
        product D_xy f v = grad_G <grad_D L_G, v> as one backward pass restricted to one player."""
        s = self.s
        lg, ld = s.losses(s.G, s.D)
        gg = torch.autograd.grad(lg, self.params, create_graph=True)  # (xi_G, grad_D L_G)
        gd = torch.autograd.grad(ld, self.params, create_graph=True)  # (grad_G L_D, xi_D)
        nG = len(s.gp)
        xg, xd = [x.detach() for x in gg[:nG]], [x.detach() for x in gd[nG:]]
        e = self.lr

        def dxy_f(v):  # D_xy f v, v over D
            return torch.autograd.grad(gg[nG:], s.gp, v, retain_graph=True)

        def dyx_g(u):  # D_yx g u, u over G
            return torch.autograd.grad(gd[:nG], s.dp, u, retain_graph=True)

        def matvec(x):  # (I - e^2 Dxy f Dyx g) x
            return [a - e * e * b for a, b in zip(x, dxy_f(dyx_g(x)))]

        rhs = [-e * (a - e * b) for a, b in zip(xg, dxy_f(xd))]
        flat = lambda t: torch.cat([a.reshape(-1) for a in t])  # noqa: E731
        shapes = [p.shape for p in s.gp]
        sizes = [p.numel() for p in s.gp]
        unflat = lambda f: [a.reshape(sh) for a, sh in zip(torch.split(f, sizes), shapes)]  # noqa: E731
        b = flat(rhs)
        bn = b.norm()
        basis = [b / bn]
        H = torch.zeros(max_iter + 1, max_iter)
        for j in range(max_iter):
            w = flat(matvec(unflat(basis[j])))
            for i in range(j + 1):
                H[i, j] = basis[i] @ w
                w = w - H[i, j] * basis[i]
            H[j + 1, j] = w.norm()
            basis.append(w / H[j + 1, j])
        e1 = torch.zeros(max_iter + 1)
        e1[0] = bn
        y = torch.linalg.lstsq(H, e1[:, None]).solution[:, 0]
        dx = unflat(sum(c * q for c, q in zip(y, basis)))
        dy = [-e * (a + c) for a, c in zip(xd, dyx_g(dx))]
        self._step_with([-a / e for a in dx] + [-a / e for a in dy])

    def lola(self, alpha=1e-3):
        """LOLA by Foerster et al.'s surrogate, 2n backward passes: the full gradients of both
        losses (with graphs), then per player i one pass of
        grad_i sum_{j != i} alpha (<grad_j L_i, sg(xi_j)> + <sg(grad_j L_i), xi_j>)."""
        s = self.s
        lg, ld = s.losses(s.G, s.D)
        gg = torch.autograd.grad(lg, self.params, create_graph=True)
        gd = torch.autograd.grad(ld, self.params, create_graph=True)
        nG = len(s.gp)
        xg, xd = gg[:nG], gd[nG:]
        dot = lambda a, b: sum((x * y).sum() for x, y in zip(a, b))  # noqa: E731
        sg = lambda t: [x.detach() for x in t]  # noqa: E731
        surrogate_g = alpha * (dot(gg[nG:], sg(xd)) + dot(sg(gg[nG:]), xd))
        surrogate_d = alpha * (dot(gd[:nG], sg(xg)) + dot(sg(gd[:nG]), xg))
        shape_g = torch.autograd.grad(surrogate_g, s.gp, retain_graph=True)
        shape_d = torch.autograd.grad(surrogate_d, s.dp)
        self._step_with([a.detach() - b for a, b in zip(xg, shape_g)] + [a.detach() - b for a, b in zip(xd, shape_d)])


# ---- the benchmark's solver table: the same method on both sides --------------------------
LR = 1e-3
SOLVERS = {
    "simgd": {}, "altgd": {}, "extragradient": {}, "optimistic": {}, "consensus": {"gamma": 1.0},
    "hamiltonian": {}, "sga": {"lam": 1.0}, "unrolled": {"unroll_steps": 5},
    "cgd": {"tol": 1e-30, "max_iter": 10, "warm_start": False}, "lola": {"alpha": LR},
}


def equilib_solver(name, setup):
    game = eq.Game({"G": setup.G, "D": setup.D}, setup.equilib_losses)
    return eq.make_solver(name, game, lr=LR, **SOLVERS[name])


def players_order_altgd(name, setup):
    # hand-written altgd updates D first, then G: declare D first for equilib
    game = eq.Game({"D": setup.D, "G": setup.G}, setup.equilib_losses)
    return eq.make_solver("altgd", game, lr=LR)


def make(name, which):
    setup = Setup()
    if which == "handwritten":
        hw = Handwritten(setup, lr=LR)
        return getattr(hw, name), setup
    solver = players_order_altgd(name, setup) if name == "altgd" else equilib_solver(name, setup)
    return (lambda: solver.step(setup.real)), setup

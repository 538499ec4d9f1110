"""gan: GANs as equilib games, trained by any equilib solver.

    import torch, equilib as eq, gan
    data = gan.load_dataset("ring")
    G, D = gan.build_models("mlp", data.shape, latent_dim=16)
    game = gan.GANGame(G, D, loss="nonsaturating", seed=0)
    solver = eq.make_solver("consensus", game, lr=1e-4, optimizer="rmsprop", gamma=10.0)
    batches = torch.Generator().manual_seed(0)
    for _ in range(1000):
        solver.step(data.sample(512, batches))
    gan.metrics.mixture_metrics(game.sample(2500), data.means, data.std)
"""

from gan import data, losses, metrics, models
from gan.data import DATASETS, load_dataset
from gan.game import GANGame
from gan.losses import LOSSES
from gan.models import MODELS, build_models
from gan.training import load_run, sample, train

__all__ = [
    "GANGame", "LOSSES", "build_models", "load_dataset", "DATASETS", "MODELS",
    "losses", "models", "data", "metrics", "train", "sample", "load_run",
]

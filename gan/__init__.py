"""gan: GANs as equilib games, trained by any equilib solver.

    import torch, equilib as eq, gan
    data = gan.load_dataset("ring")
    G, D = gan.build_models("mlp", data.shape, latent_dim=16)
    game = gan.GANGame(G, D, loss="nonsaturating")
    solver = eq.make_solver("consensus", game, lr=1e-4, optimizer="rmsprop", gamma=10.0)
    batches, noise = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)
    for _ in range(1000):
        solver.step(data.sample(512, batches), game.latent(512, noise))   # real batch x, latent batch z
    gan.metrics.mixture_metrics(game.sample(2500, generator=noise), data.means, data.std)
"""

from gan import data, losses, metrics, models
from gan.data import DATASETS, load_dataset
from gan.game import GANGame
from gan.losses import LOSSES
from gan.models import MODELS, build_models
from gan.config import TrainConfig
from gan.training import load_run, sample, train

__all__ = [
    "GANGame", "LOSSES", "build_models", "load_dataset", "DATASETS", "MODELS",
    "losses", "models", "data", "metrics", "train", "sample", "load_run", "TrainConfig",
]

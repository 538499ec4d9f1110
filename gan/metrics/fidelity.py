"""FID and Inception Score through torch-fidelity (optional; it downloads Inception weights)."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["fid", "inception_score"]


def _fidelity():
    try:
        import torch_fidelity
    except ImportError as e:
        raise ImportError(
            "fid and inception_score need torch-fidelity, which is not installed (an optional extra): "
            "pip install torch-fidelity (or pip install 'equilib[images]'). It downloads Inception "
            "weights on first use, so run it on a connected machine; offline, use gan.metrics.digits_metrics"
        ) from e
    return torch_fidelity


class _Uint8Images(torch.utils.data.Dataset):
    """Images in [-1, 1] (n, c, h, w) as uint8 RGB tensors, the input torch-fidelity expects."""

    def __init__(self, images: Tensor):
        x = ((torch.as_tensor(images).detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        self.x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x

    def __len__(self):
        return self.x.shape[0]

    def __getitem__(self, i):
        return self.x[i]


def fid(generated, real, **options) -> float:
    """Frechet Inception Distance between two image batches in [-1, 1] (torch-fidelity)."""
    tf = _fidelity()
    out = tf.calculate_metrics(input1=_Uint8Images(generated), input2=_Uint8Images(real), fid=True,
                               verbose=False, **options)
    return float(out["frechet_inception_distance"])


def inception_score(generated, **options) -> tuple[float, float]:
    """Inception Score (mean, std over splits) of an image batch in [-1, 1] (torch-fidelity)."""
    tf = _fidelity()
    out = tf.calculate_metrics(input1=_Uint8Images(generated), isc=True, verbose=False, **options)
    return float(out["inception_score_mean"]), float(out["inception_score_std"])

"""The offline image metric of a data set: :func:`image_metrics` picks it by the data set's name."""

from __future__ import annotations

from gan.metrics.digits import digits_metrics
from gan.metrics.stacked_digits import stacked_digits_metrics

__all__ = ["image_metrics", "IMAGE_METRICS"]

#: The data sets with an offline image metric, and that metric.
IMAGE_METRICS = {"digits": digits_metrics, "stacked-digits": stacked_digits_metrics}


def image_metrics(data_name: str, images) -> dict:
    """The metrics of generated ``images`` for data set ``data_name`` (one of ``gan.data.DATASETS``):
    ``digits`` -> :func:`digits_metrics`, ``stacked-digits`` -> :func:`stacked_digits_metrics`, any other
    data set -> ``{}`` (no offline metric: MNIST, CIFAR-10 and folders need :func:`fid`, which downloads
    Inception weights; mixtures use :func:`mixture_metrics`)."""
    from gan.data import DATASETS

    if not isinstance(data_name, str) or data_name not in DATASETS:
        raise ValueError(f"data_name must be one of {list(DATASETS)}, got {data_name!r}")
    metric = IMAGE_METRICS.get(data_name)
    return {} if metric is None else metric(images)

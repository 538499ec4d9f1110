"""How good is a trained GAN: mode coverage on mixtures, densities in 1-D, image metrics.

* :func:`mixture_metrics` (:mod:`gan.metrics.mixtures`): the protocol of VEEGAN (Srivastava et al.
  2017) and PacGAN (Lin et al. 2018) on the ring and grid: modes captured, high-quality fraction,
  KL from uniform; :func:`kde`: Gaussian kernel density estimates for plots.
* :func:`mode_coverage`, :func:`kl_from_uniform` (:mod:`gan.metrics.modes`): the histogram of
  assigned modes, whatever assigns them: modes covered and KL(p || uniform).
* :func:`optimal_discriminator`, :func:`jsd`, :func:`gan_value` (:mod:`gan.metrics.densities`):
  D* = p_data / (p_data + p_g) and V(G, D*) = -log 4 + 2 JSD(p_data || p_g) (Goodfellow et al. 2014,
  Theorem 1) on a 1-D grid.
* :func:`frechet_distance`, :func:`gaussian_stats` (:mod:`gan.metrics.frechet`).
* :class:`DigitsClassifier`, :func:`digits_metrics` (:mod:`gan.metrics.digits`): an offline image
  metric on the bundled digits (class coverage, KL from uniform, Frechet distance of features);
  :func:`stacked_digits_metrics` (:mod:`gan.metrics.stacked_digits`): the 1,000 modes of stacked
  digits; :func:`image_metrics` (:mod:`gan.metrics.images`): the metric of a data set by name.
* :func:`fid`, :func:`inception_score` (:mod:`gan.metrics.fidelity`): through torch-fidelity
  (optional; needs Inception weights).
"""

from gan.metrics.densities import gan_value, jsd, optimal_discriminator
from gan.metrics.digits import DigitsClassifier, digits_classifier, digits_metrics
from gan.metrics.fidelity import fid, inception_score
from gan.metrics.frechet import frechet_distance, gaussian_stats
from gan.metrics.images import IMAGE_METRICS, image_metrics
from gan.metrics.mixtures import kde, mixture_metrics
from gan.metrics.modes import kl_from_uniform, mode_coverage
from gan.metrics.stacked_digits import STACKED_MODES, stacked_digits_metrics, stacked_digits_modes

__all__ = [
    "mixture_metrics", "kde", "optimal_discriminator", "jsd", "gan_value", "frechet_distance",
    "gaussian_stats", "DigitsClassifier", "digits_classifier", "digits_metrics", "fid", "inception_score",
    "mode_coverage", "kl_from_uniform", "stacked_digits_modes", "stacked_digits_metrics", "STACKED_MODES",
    "image_metrics", "IMAGE_METRICS",
]

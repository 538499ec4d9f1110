"""Test-suite settings: the tests use tiny tensors, for which one intra-op thread is fastest
(and several processes sharing two cores do not oversubscribe them)."""

import torch

torch.set_num_threads(1)

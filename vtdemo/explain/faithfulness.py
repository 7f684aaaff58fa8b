"""How far a class map can be trusted.

- Deletion and insertion (Petsiuk, Das & Saenko, BMVC 2018, "RISE"): the explained class's probability as the
  map's pixels, most relevant first, are replaced by 0 in the normalised input (the dataset's mean colour) —
  deletion — or put into a blurred copy of the input — insertion; AUC is the trapezoid area under the curve over
  the fraction of pixels changed. A faithful map deletes low and inserts high. Pixels of equal relevance are taken
  in a fixed random order (a coarse map has plateaus).
- The model-parameter randomization check (Adebayo et al., NeurIPS 2018, "Sanity Checks for Saliency Maps"): the
  Spearman rank correlation between the map and the same map from a copy whose top blocks (the head and the last
  block) are re-initialised. A method that explains the model changes with its weights: a correlation under
  ``RANDOMIZED_BELOW`` passes.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

STEPS = 20  # points of each curve past the first (5 % of the pixels per step)
BATCH = 16
RISE_SIGMA_AT_224 = 5.0  # RISE's insertion blur: Gaussian σ 5 px (kernel 11) at 224 px, scaled with the input
RANDOMIZED_BELOW = 0.5
RANDOM_CELLS = 8  # the random baseline's grid (a ViT-B/16 at 224 px has 14², the demo models 8²)


@dataclass(frozen=True)
class Curves:
    """Deletion and insertion of one map: probabilities at 0, 1/STEPS, …, 1 of the pixels changed, and AUCs."""

    deletion: np.ndarray
    insertion: np.ndarray

    @property
    def deletion_auc(self) -> float:
        return auc(self.deletion)

    @property
    def insertion_auc(self) -> float:
        return auc(self.insertion)


def auc(curve: np.ndarray) -> float:
    """Trapezoid area under ``curve`` sampled evenly over [0, 1]."""
    c = np.asarray(curve, dtype=np.float64)
    return float((c[:-1] + c[1:]).sum() / (2 * (len(c) - 1)))


def blurred(x: torch.Tensor) -> torch.Tensor:
    """RISE's insertion start: ``x`` Gaussian-blurred (σ 5 px at 224 px, kernel ±2σ)."""
    from torchvision.transforms.functional import gaussian_blur

    sigma = RISE_SIGMA_AT_224 * x.shape[-1] / 224
    kernel = 2 * int(round(2 * sigma)) + 1
    return gaussian_blur(x, [kernel, kernel], [sigma, sigma])


def order(saliency: np.ndarray, seed: int = 0) -> np.ndarray:
    """Pixel indices, most relevant first; ties in a fixed random order."""
    flat = np.asarray(saliency, dtype=np.float64).ravel()
    shuffled = np.random.default_rng(seed).permutation(flat.size)
    return shuffled[np.argsort(-flat[shuffled], kind="stable")]


@torch.no_grad()
def _probabilities(model: nn.Module, batch: torch.Tensor, target: int) -> np.ndarray:
    return torch.cat([model(chunk).float().softmax(-1)[:, target].cpu() for chunk in batch.split(BATCH)]).numpy()


def curve(model: nn.Module, x: torch.Tensor, target: int, saliency: np.ndarray, start: torch.Tensor,
          finish: torch.Tensor, steps: int = STEPS) -> np.ndarray:
    """Probabilities of ``target`` as the pixels of ``start`` are replaced by ``finish``'s in ``saliency`` order, at
    ``steps`` + 1 evenly spaced counts (0 … all)."""
    h, w = x.shape[-2:]
    if saliency.shape != (h, w):
        raise ValueError(f"the map is {saliency.shape[1]}×{saliency.shape[0]}; the input {w}×{h}")
    rank = np.empty(h * w, dtype=np.int64)
    rank[order(saliency)] = np.arange(h * w)
    rank = torch.from_numpy(rank).view(1, h, w).to(x.device)
    counts = np.round(np.linspace(0, h * w, steps + 1)).astype(np.int64)
    masks = torch.stack([rank < int(k) for k in counts]).to(x.dtype)  # (steps + 1, 1, h, w): changed pixels
    batch = start * (1 - masks) + finish * masks
    return _probabilities(model, batch, target)


def deletion_insertion(model: nn.Module, x: torch.Tensor, target: int, saliency: np.ndarray,
                       steps: int = STEPS) -> Curves:
    x = x.detach().float()
    return Curves(curve(model, x, target, saliency, x, torch.zeros_like(x), steps),
                  curve(model, x, target, saliency, blurred(x), x, steps))


def random_map(size: int, seed: int = 0) -> np.ndarray:
    """The baseline a map must beat: uniform noise on a RANDOM_CELLS² grid, bilinear over the input. As coarse as
    the maps it is compared with: per-pixel noise would delete scattered pixels, a speckle no training image has,
    which drops any class fast and flatters the random order (deletion's known out-of-distribution artefact)."""
    cells = torch.from_numpy(np.random.default_rng(seed).random((1, 1, RANDOM_CELLS, RANDOM_CELLS)))
    return F.interpolate(cells.float(), size=(size, size), mode="bilinear", align_corners=False)[0, 0].numpy()


def randomized_copy(model: nn.Module, blocks, seed: int = 0) -> nn.Module:
    """A copy of ``model`` whose modules ``blocks(copy)`` have fresh weights (each submodule's own initialiser)."""
    broken = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for block in blocks(broken):
            for m in block.modules():
                if hasattr(m, "reset_parameters"):
                    m.reset_parameters()
    return broken


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's ρ of two maps (0 when either is constant)."""
    from scipy.stats import spearmanr

    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)

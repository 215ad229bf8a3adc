"""Feature distributions per domain (Figure 3 of the CN paper).

The paper draws the feature maps after ResNet-32's first residual block for
original and transformed CIFAR-10 images and reads them as: one shared BN
normalizes both into nearly the same distribution, CN keeps them apart.
Here the output of one layer of a segmentor is collected for samples of
every domain of a dataset, each sample routed to its domain's CN bank, and
drawn as densities, one panel per model on shared axes
(``tools/visualize_features.py``).

The default layer is the last normalization layer of ``backbone.layer1``
(``backbone.layer1.1.bn2`` in ResNet-18/34): its output, before the residual
addition and the ReLU, is what the normalization itself does. What the
picture can show there follows from the layers (in eval mode):

- CN: bank k normalizes domain k with domain k's own running statistics, so
  each domain comes out close to N(beta_k[c], gamma_k[c]^2) in every channel
  c. Whatever the domains' input statistics, the gap left between them is
  the difference between the banks' affine parameters: the figure shows what
  the banks learned, not that CN "keeps" an input gap.
- BN: both domains share one set of running statistics (their average over
  training), so a domain whose statistics differ from it is shifted and
  scaled: the gap between the domains at the input of the layer survives,
  scaled by the shared statistics (BN does not push the domains together;
  it removes one common mean and variance).

Measured on the demo's models (``tools/train.py`` on
``configs/demo/{,cn_}deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128.py``,
400 iterations, seed 0; 8 synthetic val frames per domain; mean / std of the
pooled values, the 1-Wasserstein distance W1 and the channel gap between the
domains, as ``tools/visualize_features.py`` prints them)::

    layer (its output)        model  cityscapes    gta5           W1     gap
    backbone.stem.1 (1st BN)  BN     0.159 / 0.69  -0.105 / 1.29  0.559  0.478
                              CN     0.039 / 0.91  -0.073 / 1.06  0.178  0.155
    backbone.layer1.1.bn2     BN     0.016 / 0.09   0.010 / 0.13  0.021  0.366
                              CN     0.012 / 0.06   0.018 / 0.09  0.017  0.474
    backbone.layer1 (ReLU)    BN     0.589 / 0.62   0.792 / 0.89  0.204  0.460
                              CN     0.531 / 0.67   0.686 / 0.89  0.155  0.239

At the first norm layer, where the domains' inputs differ most, BN leaves
them apart and CN brings both close to N(beta_k, gamma_k^2) (W1 0.56 vs
0.18); at the default layer both models' domains nearly coincide (W1 0.02),
CN's slightly further apart per channel (the banks' gamma/beta differ, and
val statistics are not the running ones); after ``backbone.layer1``'s ReLU
BN's domains are further apart than CN's. The paper's reading (BN merges the
domains, CN keeps them apart) is not what these models show; where the two
differ, it is BN that keeps more of the domains' difference. The tool prints
these numbers so that a figure is read by numbers, not by eye.
"""
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.utils import ProgressBar
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

from cn_seg.models import ConsistentNorm, domain_routing
from cn_seg.structures import (batch_domain_tags, concat_ranges,
                               default_domain_name)
from .figures import pyplot, save_figure

#: Module types whose output is a normalization's (every CN layer is a
#: ``ConsistentNorm``; the batch-statistics one is a ``_BatchNorm`` too).
NORM_TYPES = (_BatchNorm, nn.GroupNorm, nn.LayerNorm, _InstanceNorm,
              ConsistentNorm)
#: The module whose last normalization layer is the default layer.
DEFAULT_STAGE = 'backbone.layer1'


class _Captured(Exception):
    """Stops the forward pass once the layer's output is captured."""


def _submodule(model: nn.Module, name: str, what: str) -> nn.Module:
    try:
        return model.get_submodule(name)
    except AttributeError as error:
        stages = [n for n, _ in model.named_children()]
        raise ValueError(
            f"The model has no module '{name}' ({what}); name one of its "
            f'modules (dotted, as in model.named_modules(); top level: '
            f'{stages}).') from error


def default_layer(model: nn.Module, stage: str = DEFAULT_STAGE) -> str:
    """The last normalization layer of ``stage``, in module order.

    Args:
        model (nn.Module): The segmentor.
        stage (str): Dotted name of the module to search.
            Default: 'backbone.layer1'.

    Returns:
        str: The layer's dotted name, e.g. ``'backbone.layer1.1.bn2'``.

    Raises:
        ValueError: If ``stage`` does not exist or holds no norm layer.
    """
    module = _submodule(
        model, stage, 'the stage whose last norm layer is '
        'the default layer')
    names = [
        f'{stage}.{name}' for name, m in module.named_modules()
        if name and isinstance(m, NORM_TYPES)
    ]
    if not names:
        raise ValueError(f"'{stage}' holds no normalization layer; name the "
                         'layer to draw explicitly (--layer).')
    return names[-1]


def _domain_ranges(dataset) -> Dict[str, range]:
    """``{domain name: its global indices}`` of a (multi-domain) dataset."""
    names = getattr(dataset, 'domain_names', None)
    if names is None:
        return {default_domain_name(dataset): range(len(dataset))}
    return dict(zip(names, concat_ranges(dataset)))


def domain_banks(dataset) -> Dict[str, int]:
    """``{domain name: its CN bank}`` of a (multi-domain) dataset."""
    names = getattr(dataset, 'domain_names', None)
    if names is None:
        return {default_domain_name(dataset): 0}
    return dict(zip(names, dataset.domain_indices))


def _channels_last(output, module: nn.Module, layer: str) -> torch.Tensor:
    """``(positions, channels)`` view of one layer output."""
    if not isinstance(output, torch.Tensor):
        raise ValueError(
            f"The output of '{layer}' is a {type(output).__name__}, not a "
            'tensor; name a module that returns one (e.g. a norm layer).')
    if isinstance(module, nn.LayerNorm) or output.dim() < 2:
        return output.reshape(-1, output.shape[-1] if output.dim() else 1)
    return output.movedim(1, -1).reshape(-1, output.shape[1])


def collect_features(model: nn.Module,
                     dataset,
                     layer: Optional[str] = None,
                     num_samples: int = 8,
                     max_values: int = 200_000,
                     seed: int = 0) -> Dict[str, np.ndarray]:
    """Output values of ``layer`` for samples of each domain of ``dataset``.

    Each sample goes through the model alone, routed to the CN bank of its
    data sample's ``domain_idx`` (:func:`cn_seg.structures.batch_domain_tags`
    and :func:`cn_seg.domain_routing`); the forward pass stops at ``layer``.

    Args:
        model (nn.Module): An mmseg segmentor in eval mode.
        dataset: A :class:`cn_seg.openmmlab.datasets.MultiDomainDataset` (or a
            plain dataset: one domain).
        layer (str, optional): Dotted name of the module whose output is
            collected. Default: :func:`default_layer` of the model.
        num_samples (int): Samples per domain, evenly spread. Default: 8.
        max_values (int): Values kept per domain: a seeded random subset of
            each sample's positions (all channels of a position are kept).
            Default: 200000.
        seed (int): Seed of the subset. Default: 0.

    Returns:
        dict[str, np.ndarray]: Per domain name, the values as an array of
        shape ``(positions, channels)`` (channels: axis 1 of the output, the
        last axis for ``nn.LayerNorm``).

    Raises:
        ValueError: If ``layer`` is not a module of ``model`` or does not
            output a tensor, or ``num_samples`` or ``max_values`` < 1.
    """
    if num_samples < 1 or max_values < 1:
        raise ValueError(f'num_samples ({num_samples}) and max_values '
                         f'({max_values}) must be at least 1.')
    layer = layer or default_layer(model)
    module = _submodule(model, layer, 'the layer to draw')
    captured: List[torch.Tensor] = []

    def capture(_module, _inputs, output):
        captured.append(_channels_last(output.detach(), module, layer))
        raise _Captured

    domains = _domain_ranges(dataset)
    counts = {n: min(num_samples, len(r)) for n, r in domains.items()}
    bar = ProgressBar(sum(counts.values()))
    rng = np.random.default_rng(seed)
    handle = module.register_forward_hook(capture)
    values = {}
    try:
        for name, indices in domains.items():
            chunks = []
            for i in np.linspace(0, len(indices) - 1, counts[name]).round():
                captured.clear()
                batch = model.data_preprocessor(
                    pseudo_collate([dataset[indices[int(i)]]]), False)
                tags = batch_domain_tags(batch['data_samples'])
                try:
                    with torch.no_grad(), domain_routing(
                            model, tags.domain_idx, tags.names):
                        model(
                            batch['inputs'],
                            batch['data_samples'],
                            mode='tensor')
                except _Captured:
                    pass
                if not captured:
                    raise ValueError(f"'{layer}' did not run in the model's "
                                     "forward pass (mode='tensor').")
                rows = captured[0].float().cpu().numpy()
                keep = max(1, max_values // (counts[name] * rows.shape[1]))
                if rows.shape[0] > keep:
                    rows = rows[np.sort(
                        rng.choice(rows.shape[0], keep, replace=False))]
                chunks.append(rows)
                bar.update()
            values[name] = np.concatenate(chunks)
    finally:
        handle.remove()
    return values


def distribution_figure(panels: Dict[str, Dict[str, np.ndarray]],
                        titles: Optional[Dict[str, str]] = None,
                        suptitle: Optional[str] = None,
                        bins: int = 100,
                        yscale: str = 'linear'):
    """Each domain's density, one panel per model, on shared axes.

    Args:
        panels (dict[str, dict[str, np.ndarray]]): Per model name, the
            values of each domain (any shape; all values are drawn).
        titles (dict[str, str], optional): A title per model. Default: the
            model names.
        suptitle (str, optional): The figure's title. Default: None.
        bins (int): Histogram bins over the common range (0.5th to 99.5th
            percentile of all values). Default: 100.
        yscale (str): 'linear' or 'log'. Default: 'linear'.

    Returns:
        matplotlib.figure.Figure: The figure (close it after use).
    """
    plt = pyplot()

    everything = np.concatenate(
        [np.ravel(v) for domains in panels.values() for v in domains.values()])
    low, high = np.percentile(everything, [0.5, 99.5])
    if high <= low:
        high = low + 1.0
    edges = np.linspace(low, high, bins + 1)
    fig, axes = plt.subplots(
        1,
        len(panels),
        sharex=True,
        sharey=True,
        squeeze=False,
        figsize=(1 + 5 * len(panels), 4.5))
    for ax, (model, domains) in zip(axes[0], panels.items()):
        for name, domain_values in domains.items():
            flat = np.ravel(domain_values)
            ax.hist(
                flat,
                bins=edges,
                density=True,
                histtype='step',
                linewidth=1.8,
                label=f'{name}: mean {flat.mean():.3f}, '
                f'std {flat.std():.3f}')
        ax.set_yscale(yscale)
        ax.set_xlabel('feature value')
        ax.set_title((titles or {}).get(model, model), fontsize='medium')
        ax.legend(fontsize='small')
    axes[0, 0].set_ylabel('density')
    if suptitle:
        fig.suptitle(suptitle, fontsize='medium')
    fig.tight_layout()
    return fig


def plot_distributions(panels: Dict[str, Dict[str, np.ndarray]], path: str,
                       **kwargs) -> str:
    """Save :func:`distribution_figure` as a PNG.

    Args:
        panels (dict[str, dict[str, np.ndarray]]): As for
            :func:`distribution_figure`.
        path (str): Output PNG file.
        **kwargs: ``titles``, ``suptitle``, ``bins``, ``yscale`` of
            :func:`distribution_figure`.

    Returns:
        str: ``path``.
    """
    return save_figure(distribution_figure(panels, **kwargs), path)

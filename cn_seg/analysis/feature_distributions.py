"""Feature distributions per domain (Figure 3 of the CN paper).

The paper shows the distribution of the feature maps after the first
residual block for the original and the transformed data: with one shared
BN they are pushed onto each other, with CN each domain keeps its own. Here
the features of a segmentor's ``backbone.layer1`` (the first residual stage)
are collected for samples of every domain of a dataset, each sample
normalized with its domain's bank, and drawn as densities on one axis.
"""
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.utils import ProgressBar
from torch import nn

from ..models import domain_routing
from ..structures import concat_ranges, default_domain_name


def _domain_ranges(dataset) -> Dict[str, range]:
    """``{domain name: its global indices}`` of a (multi-domain) dataset."""
    names = getattr(dataset, 'domain_names', None)
    if names is None:
        return {default_domain_name(dataset): range(len(dataset))}
    return dict(zip(names, concat_ranges(dataset)))


def collect_features(model: nn.Module,
                     dataset,
                     layer: str = 'backbone.layer1',
                     num_samples: int = 8,
                     max_values: int = 200_000,
                     seed: int = 0) -> Dict[str, np.ndarray]:
    """Output values of ``layer`` for samples of each domain of ``dataset``.

    Args:
        model (nn.Module): An mmseg segmentor in eval mode.
        dataset: A :class:`cn_seg.datasets.MultiDomainDataset` (or a plain
            dataset: one domain). Its samples are routed to the CN bank of
            their ``domain_idx``.
        layer (str): Dotted name of the module whose output is collected.
            Default: 'backbone.layer1'.
        num_samples (int): Samples per domain, evenly spread. Default: 8.
        max_values (int): Values kept per domain (a seeded random subset).
            Default: 200000.
        seed (int): Seed of the subset. Default: 0.

    Returns:
        dict[str, np.ndarray]: The values per domain name.

    Raises:
        ValueError: If ``layer`` is not a module of ``model``.
    """
    try:
        module = model.get_submodule(layer)
    except AttributeError as error:
        raise ValueError(f"The model has no module '{layer}'; name one of "
                         "its modules, e.g. 'backbone.layer1'.") from error
    captured: List[torch.Tensor] = []
    handle = module.register_forward_hook(
        lambda _m, _i, out: captured.append(out.detach().flatten()))
    domains = _domain_ranges(dataset)
    bar = ProgressBar(sum(min(num_samples, len(r)) for r in domains.values()))
    rng = np.random.default_rng(seed)
    values = {}
    try:
        for name, indices in domains.items():
            count = min(num_samples, len(indices))
            chunks = []
            for i in np.linspace(0, len(indices) - 1, count).round():
                captured.clear()
                data = dataset[indices[int(i)]]
                batch = model.data_preprocessor(pseudo_collate([data]), False)
                sample = batch['data_samples'][0]
                with torch.no_grad(), domain_routing(
                        model, [int(sample.metainfo.get('domain_idx', 0))]):
                    model.extract_feat(batch['inputs'])
                chunks.append(captured[0].float().cpu().numpy())
                bar.update()
            all_values = np.concatenate(chunks)
            if all_values.size > max_values:
                all_values = rng.choice(all_values, max_values, replace=False)
            values[name] = all_values
    finally:
        handle.remove()
    return values


def plot_distributions(values: Dict[str, np.ndarray],
                       path: str,
                       title: Optional[str] = None,
                       bins: int = 100) -> str:
    """Draw the densities of each domain's values on one axis (a PNG).

    Args:
        values (dict[str, np.ndarray]): Values per domain.
        path (str): Output PNG file.
        title (str, optional): Figure title. Default: None.
        bins (int): Histogram bins over the common range. Default: 100.

    Returns:
        str: ``path``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    everything = np.concatenate(list(values.values()))
    low, high = np.percentile(everything, [0.5, 99.5])
    if high <= low:
        high = low + 1.0
    edges = np.linspace(low, high, bins + 1)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, domain_values in values.items():
        ax.hist(domain_values, bins=edges, density=True, histtype='step',
                linewidth=1.8,
                label=f'{name}: mean {domain_values.mean():.3f}, '
                f'std {domain_values.std():.3f}')
    ax.set_yscale('log')
    ax.set_xlabel('feature value')
    ax.set_ylabel('density')
    if title:
        ax.set_title(title, fontsize='medium')
    ax.legend(fontsize='small')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path

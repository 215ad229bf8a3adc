"""The per-sample domain assignment of one batch, validated once per forward pass."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch

DomainIdx = Union[Sequence[int], torch.Tensor]
Segment = Tuple[int, int, int]  # (domain, start, end) of a contiguous run of samples


class DomainRoute:
    """Which normalization bank each sample of a batch uses.

    Built once per batch (by :func:`cn_seg.domain_routing`) and shared by every
    CN layer of the model, so the validation and the grouping below run once per
    forward pass, not once per layer.

    When every domain's samples are contiguous (e.g. ``[0, 0, 1, 1]`` or
    ``[1, 0, 0]``), each CN layer works on zero-copy slices of its input. Other
    orders (``[0, 1, 0, 1]``) are first gathered into domain order and scattered
    back afterwards, which is exact but costs two extra copies per layer.

    Args:
        domain_idx (Sequence[int] | torch.Tensor): The bank of each sample, a
            list of ints or an integer tensor of shape ``(N,)``.
        names (Sequence[str], optional): Domain names by index, for logs
            (e.g. per-domain losses). Default: None.

    Raises:
        ValueError: If ``domain_idx`` is not a 1-D sequence of non-negative
            integers.
    """

    def __init__(self, domain_idx: DomainIdx,
                 names: Optional[Sequence[str]] = None):
        idx = self._to_long_tensor(domain_idx)
        self.names = list(names or [])
        self.domain_idx = idx
        self.batch_size = int(idx.numel())
        self.max_domain = int(idx.max()) if self.batch_size else -1
        runs = self._runs(idx.tolist())
        if len({k for k, _, _ in runs}) == len(runs):
            self.perm: Optional[torch.Tensor] = None
            self.inv_perm: Optional[torch.Tensor] = None
            self.segments: List[Segment] = runs
        else:
            # A stable sort keeps the samples of each domain in batch order.
            self.perm = torch.sort(idx, stable=True).indices
            self.inv_perm = torch.empty_like(self.perm)
            self.inv_perm[self.perm] = torch.arange(self.batch_size)
            self.segments = self._runs(idx[self.perm].tolist())
        self._on_device: Dict[Tuple[str, torch.device], torch.Tensor] = {}

    @staticmethod
    def _to_long_tensor(domain_idx: DomainIdx) -> torch.Tensor:
        if isinstance(domain_idx, torch.Tensor):
            if domain_idx.dtype.is_floating_point or domain_idx.is_complex() \
                    or domain_idx.dtype == torch.bool:
                raise ValueError(
                    'domain_idx must hold integer bank indices, got a tensor '
                    f'of dtype {domain_idx.dtype}; pass a LongTensor or a list '
                    'of ints.')
            idx = domain_idx.detach().to('cpu', torch.long)
        else:
            values = list(domain_idx)
            bad = [v for v in values
                   if isinstance(v, bool) or not isinstance(v, int)
                   and not (isinstance(v, torch.Tensor) and v.numel() == 1
                            and not v.dtype.is_floating_point)]
            if bad:
                raise ValueError(
                    'domain_idx must hold integer bank indices, got '
                    f'{bad[0]!r} ({type(bad[0]).__name__}); pass a list of '
                    'ints or a LongTensor.')
            idx = torch.tensor([int(v) for v in values], dtype=torch.long)
        if idx.dim() != 1:
            raise ValueError('domain_idx must be 1-D (one bank per sample), '
                             f'got shape {tuple(idx.shape)}.')
        if idx.numel() and int(idx.min()) < 0:
            raise ValueError(f'domain_idx holds {int(idx.min())}; bank '
                             'indices must be in [0, num_domains).')
        return idx

    @staticmethod
    def _runs(values: List[int]) -> List[Segment]:
        runs: List[Segment] = []
        start = 0
        for i in range(1, len(values) + 1):
            if i == len(values) or values[i] != values[start]:
                runs.append((values[start], start, i))
                start = i
        return runs

    @property
    def grouped(self) -> bool:
        """bool: Whether each domain's samples are already contiguous."""
        return self.perm is None

    def check(self, batch_size: int, num_domains: Optional[int],
              layer: str) -> None:
        """Raise a clear error if this route does not fit a layer's input.

        Args:
            batch_size (int): The batch size of the layer's input.
            num_domains (int, optional): The number of banks of the layer
                (not checked if None).
            layer (str): How to name the layer in the message.
        """
        if batch_size != self.batch_size:
            raise ValueError(
                f'{layer} got a batch of {batch_size} samples but domain_idx '
                f'has {self.batch_size} entries; give one bank index per '
                'sample.')
        if num_domains is not None and self.max_domain >= num_domains:
            raise ValueError(
                f'domain_idx holds {self.max_domain} but {layer} has '
                f'{num_domains} banks; indices must be in [0, {num_domains}).')

    def to(self, name: str, device: torch.device) -> torch.Tensor:
        """Return ``domain_idx``, ``perm`` or ``inv_perm`` on ``device``.

        The copies are cached, so a model with many CN layers moves each index
        tensor to the accelerator once per batch.
        """
        key = (name, device)
        if key not in self._on_device:
            self._on_device[key] = getattr(self, name).to(device)
        return self._on_device[key]

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(domain_idx='
                f'{self.domain_idx.tolist()})')

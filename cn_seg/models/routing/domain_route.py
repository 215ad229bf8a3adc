"""The bank of every sample of one batch, validated and grouped once."""
import functools
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch

DomainIdx = Union[Sequence[int], torch.Tensor]


class Segment(NamedTuple):
    """A run of samples of one domain in the domain-ordered batch.

    Args:
        domain (int): The bank.
        start (int): First sample (in the domain-ordered batch).
        end (int): One past the last sample.
    """
    domain: int
    start: int
    end: int


class RouteTensors(NamedTuple):
    """The route's index tensors on one device.

    Args:
        domain_idx (torch.Tensor): ``(N,)`` int64, the bank of each sample.
        perm (torch.Tensor, optional): ``(N,)`` gathers the batch into domain
            order (None when it is already in domain order).
        inv_perm (torch.Tensor, optional): ``(N,)`` scatters it back.
        onehot (torch.Tensor): ``(N, k)`` float32 (``k = max_domain + 1``),
            row ``i`` one-hot at sample ``i``'s bank: compiled CN merges
            per-sample moments with it.
        samples (torch.Tensor): ``(k,)`` float32 samples of each bank.
    """
    domain_idx: torch.Tensor
    perm: Optional[torch.Tensor]
    inv_perm: Optional[torch.Tensor]
    onehot: torch.Tensor
    samples: torch.Tensor


class DomainRoute:
    """Which normalization bank each sample of a batch uses.

    Built once per batch (by :func:`cn_seg.domain_routing` or the routing
    hooks) and read by every domain-routed module of the model (CN layers,
    ``DomainWeightedLoss``), so the validation and grouping below run once per
    forward pass, not once per layer. A batch in any order is valid: when each
    domain's samples are contiguous (``[0, 0, 1, 1]`` or ``[1, 0, 0]``) the
    route is :attr:`grouped` and backends that need domain order work on
    zero-copy slices; other orders carry the permutation to domain order.

    Args:
        domain_idx (Sequence[int] | torch.Tensor): The bank of each sample, a
            list of ints or an integer tensor of shape ``(N,)``.
        names (Sequence[str], optional): Domain names by bank index, for logs
            (e.g. per-domain losses). Default: None.

    Raises:
        ValueError: If ``domain_idx`` is not a 1-D sequence of non-negative
            integers.
    """

    def __init__(self,
                 domain_idx: DomainIdx,
                 names: Optional[Sequence[str]] = None):
        #: tuple[int]: The bank of each sample, in batch order.
        self.domains: Tuple[int, ...] = _as_bank_indices(domain_idx)
        self.names: List[str] = list(names or [])
        self.batch_size = len(self.domains)
        self.max_domain = max(self.domains, default=-1)
        order = sorted(range(self.batch_size), key=self.domains.__getitem__)
        runs = _runs(self.domains)
        #: bool: Whether each domain's samples are already contiguous.
        self.grouped = len({k for k, _, _ in runs}) == len(runs)
        self._order: Optional[List[int]] = None if self.grouped else order
        #: tuple[Segment]: The domain-ordered batch as runs of one domain;
        #: their order is the order in which banks are updated.
        self.segments: Tuple[Segment, ...] = tuple(
            runs if self.grouped else _runs([self.domains[i] for i in order]))
        self._on_device: Dict[torch.device, RouteTensors] = {}
        self._counts_on: Dict[Tuple[torch.device, int], torch.Tensor] = {}

    @property
    def single_domain(self) -> Optional[int]:
        """int | None: The bank of every sample, if the batch has only one."""
        return self.segments[0].domain if len(self.segments) == 1 else None

    def sample_counts(self, num_domains: int) -> List[int]:
        """The number of samples of each bank ``0 .. num_domains - 1``."""
        counts = [0] * num_domains
        for k, start, end in self.segments:
            counts[k] += end - start
        return counts

    def sample_counts_on(self, device: torch.device,
                         num_domains: int) -> torch.Tensor:
        """:meth:`sample_counts` as an int64 tensor on ``device`` (cached)."""
        key = (torch.device(device), num_domains)
        if key not in self._counts_on:
            self._counts_on[key] = torch.tensor(
                self.sample_counts(num_domains),
                dtype=torch.long,
                device=key[0])
        return self._counts_on[key]

    def samples_of(self, domain: int) -> List[int]:
        """Batch positions of the samples of ``domain``, in batch order."""
        return [i for i, k in enumerate(self.domains) if k == domain]

    def check(self, batch_size: int, num_domains: Optional[int],
              layer: str) -> None:
        """Raise a clear error if this route does not fit a layer's input.

        Args:
            batch_size (int): The batch size of the layer's input.
            num_domains (int, optional): The number of banks of the layer
                (not checked if None).
            layer (str): How to name the layer in the message.

        Raises:
            ValueError: If the batch size or a bank index does not fit.
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

    def on(self, device: torch.device) -> RouteTensors:
        """The route's index tensors on ``device``, built once per device.

        A model with many CN layers moves them to the accelerator once per
        batch, not once per layer.
        """
        device = torch.device(device)
        if device not in self._on_device:
            order = self._order

            def tensor(values):
                return torch.tensor(values, dtype=torch.long, device=device)

            inv = None
            if order is not None:
                inv = [0] * self.batch_size
                for position, i in enumerate(order):
                    inv[i] = position
            banks = range(max(self.max_domain + 1, 1))
            # From host lists (copies only): F.one_hot reads its input back.
            self._on_device[device] = RouteTensors(
                domain_idx=tensor(list(self.domains)),
                perm=None if order is None else tensor(order),
                inv_perm=None if inv is None else tensor(inv),
                onehot=torch.tensor([[float(d == k) for k in banks]
                                     for d in self.domains],
                                    device=device),
                samples=torch.tensor(
                    [float(self.domains.count(k)) for k in banks],
                    device=device))
        return self._on_device[device]

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(domain_idx={list(self.domains)})'


@functools.lru_cache(maxsize=64)
def uniform_route(domain: int, batch_size: int) -> DomainRoute:
    """The route of a batch whose samples all use bank ``domain`` (cached)."""
    return DomainRoute([domain] * batch_size)


def _runs(values: Sequence[int]) -> List[Segment]:
    """Consecutive runs of equal values as segments."""
    runs: List[Segment] = []
    start = 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[start]:
            runs.append(Segment(values[start], start, i))
            start = i
    return runs


def _as_bank_indices(domain_idx: DomainIdx) -> Tuple[int, ...]:
    """Validate ``domain_idx`` and return it as a tuple of ints."""
    if isinstance(domain_idx, torch.Tensor):
        if domain_idx.dtype.is_floating_point or domain_idx.is_complex() \
                or domain_idx.dtype == torch.bool:
            raise ValueError(
                'domain_idx must hold integer bank indices, got a tensor of '
                f'dtype {domain_idx.dtype}; pass a LongTensor or a list of '
                'ints.')
        if domain_idx.dim() != 1:
            raise ValueError('domain_idx must be 1-D (one bank per sample), '
                             f'got shape {tuple(domain_idx.shape)}.')
        values = tuple(int(v) for v in domain_idx.tolist())
    else:
        values = tuple(domain_idx)
        bad = [
            v for v in values if isinstance(v, bool) or not isinstance(v, int)
            and not (isinstance(v, torch.Tensor) and v.numel() == 1
                     and not v.dtype.is_floating_point)
        ]
        if bad:
            raise ValueError(
                'domain_idx must hold integer bank indices, got '
                f'{bad[0]!r} ({type(bad[0]).__name__}); pass a list of ints '
                'or a LongTensor.')
        values = tuple(int(v) for v in values)
    if values and min(values) < 0:
        raise ValueError(f'domain_idx holds {min(values)}; bank indices must '
                         'be in [0, num_domains).')
    return values

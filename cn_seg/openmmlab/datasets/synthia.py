"""SYNTHIA, RAND_CITYSCAPES (Ros et al., CVPR 2016) for mmseg."""
from mmseg.registry import DATASETS

from .synthia_labels import CLASS_SUBSETS
from .train_id_dataset import TrainIdDataset


@DATASETS.register_module()
class SynthiaDataset(TrainIdDataset):
    """SYNTHIA frames with Cityscapes' 19 classes and palette.

    The official layout is ``RGB/0000000.png`` and ``GT/LABELS/0000000.png``;
    ``tools/dataset_converters/synthia.py`` writes the train ids next to the
    labels as ``GT/LABELS/0000000_labelTrainIds.png``, which this dataset
    reads, and the file lists ``train.txt`` / ``train_subset{N}_seed{S}.txt``
    of the pairs that passed its checks (use one as ``ann_file``).

    ``class_subsets``
    (:data:`cn_seg.openmmlab.datasets.synthia_labels.CLASS_SUBSETS`) names
    the classes of the SYNTHIA -> Cityscapes benchmark:
    ``synthia16`` (the 19 without terrain, truck and train, which
    RAND_CITYSCAPES does not hold) and ``synthia13`` (also without wall,
    fence and pole). ``MultiDomainIoUMetric(class_subsets='SynthiaDataset')``
    reports ``{domain}/mIoU.synthia16`` and ``{domain}/mIoU.synthia13``.

    Example:
        >>> dict(type='SynthiaDataset', data_root='data/synthia',
        ...      ann_file='train.txt',
        ...      data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS'))

    Args:
        **kwargs: Arguments of :class:`TrainIdDataset`.
    """
    #: The named class subsets of the benchmark.
    CLASS_SUBSETS = CLASS_SUBSETS

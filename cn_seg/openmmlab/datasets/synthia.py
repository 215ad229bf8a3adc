"""SYNTHIA, RAND_CITYSCAPES (Ros et al., CVPR 2016) for mmseg."""
from mmseg.datasets import BaseSegDataset, CityscapesDataset
from mmseg.registry import DATASETS

from .multi_domain_dataset import empty_dataset_error
from .synthia_labels import CLASS_SUBSETS


@DATASETS.register_module()
class SynthiaDataset(BaseSegDataset):
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
        img_suffix (str): Suffix of the frames. Default: '.png'.
        seg_map_suffix (str): Suffix of the converted labels.
            Default: '_labelTrainIds.png'.
        **kwargs: Arguments of :class:`mmseg.datasets.BaseSegDataset`.
    """
    METAINFO = CityscapesDataset.METAINFO
    #: The named class subsets of the benchmark.
    CLASS_SUBSETS = CLASS_SUBSETS

    def __init__(self,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '_labelTrainIds.png',
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)

    def load_data_list(self) -> list:
        """mmseg's data list, refusing an empty one by its list or folder."""
        data_list = super().load_data_list()
        if not data_list:
            raise empty_dataset_error(self)
        return data_list

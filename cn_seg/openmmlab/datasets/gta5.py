"""GTA5 ("Playing for Data", Richter et al., ECCV 2016) for mmseg."""
from mmseg.datasets import BaseSegDataset, CityscapesDataset
from mmseg.registry import DATASETS

from .multi_domain_dataset import empty_dataset_error


@DATASETS.register_module()
class GTA5Dataset(BaseSegDataset):
    """GTA5 frames with Cityscapes' 19 classes and palette.

    The official layout is ``images/00001.png`` and ``labels/00001.png``
    (label ids); ``tools/dataset_converters/gta5.py`` writes the train ids
    next to them as ``labels/00001_labelTrainIds.png``, which this dataset
    reads, and the file lists ``train.txt`` / ``val.txt`` /
    ``train_subset{N}_seed{S}.txt`` of the pairs that passed its checks. Use
    one of those lists as ``ann_file``: scanning ``images/`` instead would
    also pick up the frames the converter excluded (missing or mis-sized
    labels).

    Example:
        >>> dict(type='GTA5Dataset', data_root='data/gta5',
        ...      ann_file='train.txt',
        ...      data_prefix=dict(img_path='images', seg_map_path='labels'))

    Args:
        img_suffix (str): Suffix of the frames. Default: '.png'.
        seg_map_suffix (str): Suffix of the converted labels.
            Default: '_labelTrainIds.png'.
        **kwargs: Arguments of :class:`mmseg.datasets.BaseSegDataset`.
    """
    METAINFO = CityscapesDataset.METAINFO

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

"""GTA5 ("Playing for Data", Richter et al., ECCV 2016) for mmseg."""
from mmseg.registry import DATASETS

from .train_id_dataset import TrainIdDataset


@DATASETS.register_module()
class GTA5Dataset(TrainIdDataset):
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
        **kwargs: Arguments of :class:`TrainIdDataset`.
    """

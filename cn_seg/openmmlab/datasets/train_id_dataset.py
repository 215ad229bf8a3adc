"""What the datasets of converted frames share: Cityscapes' 19 train ids."""
from mmseg.datasets import BaseSegDataset, CityscapesDataset

from .multi_domain_dataset import empty_dataset_error


class TrainIdDataset(BaseSegDataset):
    """Frames whose converted labels hold Cityscapes' 19 train ids.

    The base of the datasets that a cn_seg converter prepares (GTA5,
    SYNTHIA): Cityscapes' classes and palette, labels named
    ``{frame}_labelTrainIds.png``, and an empty data list refused by its
    list or folder instead of mmengine's bare error.

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

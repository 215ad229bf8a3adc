"""MultiDomainDataset: domain tags in the packed samples, refusals."""
import re

import pytest
from mmseg.registry import DATASETS

from cn_seg.openmmlab.datasets import MultiDomainDataset
from .synthetic_data import NUM_TRAIN, cityscapes_cfg, gta5_cfg, load_pipeline


def _wrapper(synthetic, **kwargs):
    return DATASETS.build(
        dict(
            type='MultiDomainDataset',
            datasets=[
                cityscapes_cfg(synthetic['cityscapes']),
                gta5_cfg(synthetic['gta5'])
            ],
            **kwargs))


def test_tags_reach_the_data_sample_metainfo(synthetic):
    dataset = _wrapper(synthetic, domain_names=['cityscapes', 'gta5'])
    assert len(dataset) == NUM_TRAIN + NUM_TRAIN - 2
    assert dataset.metainfo['classes'][-1] == 'bicycle'
    for idx, domain, name, folder in ((0, 0, 'cityscapes', 'leftImg8bit'),
                                      (len(dataset) - 1, 1, 'gta5', 'images')):
        sample = dataset[idx]['data_samples']
        assert sample.metainfo['domain_idx'] == domain
        assert sample.metainfo['domain_name'] == name
        assert folder in sample.metainfo['img_path']
        info = dataset.get_data_info(idx)
        assert (info['domain_idx'], info['domain_name']) == (domain, name)


def test_listed_meta_keys_and_unpacked_pipelines_work_too(synthetic):
    keys = ('img_path', 'ori_shape', 'img_shape', 'domain_idx', 'domain_name')
    dataset = MultiDomainDataset([
        cityscapes_cfg(
            synthetic['cityscapes'], pipeline=load_pipeline(meta_keys=keys)),
        gta5_cfg(synthetic['gta5'], pipeline=[dict(type='LoadImageFromFile')])
    ])
    assert dataset.domain_names == ['cityscapes', 'gta5']
    assert dataset[0]['data_samples'].metainfo['domain_name'] == 'cityscapes'
    unpacked = dataset[len(dataset) - 1]
    assert (unpacked['domain_idx'], unpacked['domain_name']) == (1, 'gta5')


def test_domain_indices_choose_the_bank(synthetic):
    dataset = DATASETS.build(
        dict(
            type='MultiDomainDataset',
            datasets=[gta5_cfg(synthetic['gta5'], split='val')],
            domain_names=['gta5'],
            domain_indices=[1]))
    assert dataset[0]['data_samples'].metainfo['domain_idx'] == 1


def test_lazy_init_defers_loading(synthetic):
    dataset = _wrapper(synthetic, lazy_init=True)
    assert not dataset._fully_initialized
    assert len(dataset) == 2 * NUM_TRAIN - 2
    assert dataset._fully_initialized


@pytest.mark.parametrize('override, match', [
    (dict(metainfo=dict(classes=('road', 'sidewalk'))), 'classes'),
    (dict(metainfo=dict(palette=[[0, 0, 0]] * 19)), 'palette'),
    (dict(ignore_index=0), 'ignore_index'),
    (dict(reduce_zero_label=True), 'reduce_zero_label'),
])
def test_refuses_domains_that_disagree(synthetic, override, match):
    with pytest.raises(ValueError, match=match) as error:
        MultiDomainDataset([
            cityscapes_cfg(synthetic['cityscapes'], lazy_init=True),
            gta5_cfg(synthetic['gta5'], lazy_init=True, **override)
        ],
                           domain_names=['cityscapes', 'gta5'])
    assert "'gta5'" in str(error.value)


def test_refuses_bad_names_and_indices(synthetic):
    cfgs = [cityscapes_cfg(synthetic['cityscapes'], lazy_init=True)] * 2
    with pytest.raises(ValueError, match='not unique'):
        MultiDomainDataset(cfgs, lazy_init=True)
    with pytest.raises(ValueError, match='one name per dataset'):
        MultiDomainDataset(cfgs, domain_names=['a'], lazy_init=True)
    with pytest.raises(ValueError, match='domain_indices'):
        MultiDomainDataset(
            cfgs,
            domain_names=['a', 'b'],
            domain_indices=[0, -1],
            lazy_init=True)


@pytest.mark.parametrize('lazy_init', [False, True])
def test_domain_without_sample_is_named_with_its_folder(
        synthetic, tmp_path, lazy_init):
    folder = tmp_path / 'leftImg8bit' / 'train'
    folder.mkdir(parents=True)
    empty = cityscapes_cfg(str(tmp_path))
    del empty['ann_file']  # scan the (empty) folder
    message = re.escape(
        "MultiDomainDataset: domain 'cityscapes' (CityscapesDataset) has no "
        f"sample: its img_path folder {folder} holds no '*_leftImg8bit.png' "
        'file')
    with pytest.raises(ValueError, match=message):
        dataset = MultiDomainDataset(
            [empty, gta5_cfg(synthetic['gta5'])], lazy_init=lazy_init)
        len(dataset)


def test_metric_names_are_checked_when_the_loop_sets_the_dataset(synthetic):
    """As the Runner's ValLoop/TestLoop do when they are built, before the
    first evaluation step: an unknown domain or class stops the run there."""
    from mmengine.evaluator import Evaluator
    from mmseg.registry import METRICS
    dataset = _wrapper(synthetic, domain_names=['cityscapes', 'gta5'])
    assert dataset.metainfo['domain_names'] == ['cityscapes', 'gta5']
    for arguments, match in (
        (dict(mean_over_domains=['cityscapes', 'mapillary']),
         re.escape("names ['mapillary'], which are not domains of the "
                   "evaluation dataset; its domain_names are "
                   "['cityscapes', 'gta5']")),
        (dict(class_subsets=dict(two=['road', 'cat'])),
         re.escape("names ['cat'], not classes of the dataset"))):
        evaluator = Evaluator(
            METRICS.build(dict(type='MultiDomainIoUMetric', **arguments)))
        with pytest.raises(ValueError, match=match):
            evaluator.dataset_meta = dataset.metainfo

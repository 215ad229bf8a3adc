"""Tagging a sample with its domain: the one function every tagger uses.

``MultiDomainDataset`` (after the pipeline), ``SetDomain`` and
``TransformDomains`` (in it) tag through :func:`tag_domain`, so a sample's
``domain_idx`` and ``domain_name`` are written, and refused, one way.
"""
from mmengine.structures import BaseDataElement


def tag_domain(results: dict,
               domain_idx: int,
               domain_name: str,
               where: str,
               unpacked: bool = False) -> dict:
    """Set ``domain_idx`` and ``domain_name`` of a sample.

    The tags go into the packed data sample's metainfo, where domain routing
    and the metric read them.

    Args:
        results (dict): A sample from a pipeline.
        domain_idx (int): The CN bank index.
        domain_name (str): The domain's name in metrics and logs.
        where (str): Who tags, for the error message.
        unpacked (bool): Whether a sample of a pipeline that does not pack
            (no ``data_samples``) is tagged in ``results`` itself. Default:
            False (it is refused).

    Returns:
        dict: ``results``.

    Raises:
        ValueError: If the sample is not packed (and ``unpacked`` does not
            allow that) or its ``data_samples`` is not a data element.
    """
    samples = results.get('data_samples')
    if isinstance(samples, BaseDataElement):
        samples.set_metainfo(
            dict(domain_idx=domain_idx, domain_name=domain_name))
    elif unpacked and 'data_samples' not in results:
        results.update(domain_idx=domain_idx, domain_name=domain_name)
    else:
        raise ValueError(
            f'{where} tags the packed data sample, but the sample is not '
            'packed: end the pipeline before it with '
            "dict(type='PackSegInputs').")
    return results

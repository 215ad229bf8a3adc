"""A plugin, for tests: registers a ``mirror://`` checkpoint scheme on import.

As a user's module named in a config's ``custom_imports`` would:
``mirror://HOST:PORT/PATH`` loads ``http://HOST:PORT/PATH`` through
``torch.hub.load_state_dict_from_url`` with its defaults (which pass
``weights_only=False`` to ``torch.load``). It is imported after ``cn_seg``,
so nothing cn_seg did at import time can have guarded it.
"""
import torch
from mmengine.runner.checkpoint import CheckpointLoader

PREFIX = 'mirror://'


@CheckpointLoader.register_scheme(prefixes=PREFIX, force=True)
def load_from_mirror(filename, map_location=None):
    url = 'http://' + filename[len(PREFIX):]
    return torch.hub.load_state_dict_from_url(url, map_location=map_location)

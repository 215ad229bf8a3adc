# mmseg's default runtime plus what makes a cn_seg run safe, so that cn_seg's
# tools/train.py, mmseg's own tools/train.py and `mim train mmsegmentation`
# give the same run. Inherit it in place of 'mmseg::_base_/default_runtime.py'
# (the config must import cn_seg: custom_imports=dict(imports=['cn_seg'])),
# and write checkpoints with default_hooks=dict(checkpoint=dict(
# type='AtomicCheckpointHook', ...)): default_hooks comes from mmseg's
# schedule files, and a key may come from one `_base_` file only.
_base_ = ['mmseg::_base_/default_runtime.py']
custom_hooks = [
    # Every checkpoint (file, URL, a plugin's scheme) loads weights only.
    dict(type='SafeLoadingHook'),
    # A checkpoint that does not fit the model (CN banks, missing weights in
    # a test run) stops the run instead of leaving layers untrained.
    dict(type='NormStateCheckHook'),
    # Random states in checkpoints: a resumed run equals an uninterrupted one.
    dict(type='RandomStateHook'),
    # Each sample normalized with the CN bank of its domain; warns about
    # banks that see no sample.
    dict(type='DomainRoutingHook'),
]
# A collective that waits longer than this for another process (one that
# stopped, crashed or hangs) fails with an error naming it, instead of
# blocking for torch's default of 30 minutes. Raise it if one rank can be
# legitimately slower than the others for longer (validation on a large set,
# checkpoint writes to slow storage): --cfg-options
# env_cfg.dist_cfg.timeout=SECONDS.
env_cfg = dict(dist_cfg=dict(timeout=600))

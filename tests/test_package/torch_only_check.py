"""Run as a script: cn_seg's core where mmcv, mmengine and mmseg are absent.

A finder first on ``sys.meta_path`` refuses the three packages with the
``ModuleNotFoundError`` a machine without them gives. The script converts a
small model, trains it routed, calibrates a bank and folds it, checking each
step against plain torch computed here, and prints ``OK`` and the
OpenMMLab modules it found imported (none).
"""
import importlib.abc
import sys

REFUSED = ('mmcv', 'mmengine', 'mmseg')


class RefuseOpenMMLab(importlib.abc.MetaPathFinder):
    """Imports of mmcv, mmengine and mmseg fail as if not installed."""

    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in REFUSED:
            raise ModuleNotFoundError(f'No module named {name!r}', name=name)
        return None


def main() -> None:
    sys.meta_path.insert(0, RefuseOpenMMLab())
    import torch
    from torch import nn

    import cn_seg
    assert cn_seg.openmmlab is None, cn_seg.openmmlab

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 1),
        nn.GroupNorm(2, 4)).double()
    plain = [nn.BatchNorm2d(4).double() for _ in range(2)]
    cn_seg.convert_cn(model, num_domains=2)
    assert [type(m).__name__ for m in model] == [
        'Conv2d', 'BatchConsistentNorm', 'ReLU', 'Conv2d',
        'AffineConsistentNorm'
    ]

    # Routed training: each domain's samples are batch-normalized with their
    # own statistics, as a plain BN run on that domain's samples alone.
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64)
    x[2:] = x[2:] * 3 + 1
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with cn_seg.domain_routing(model, [0, 0, 1, 1]):
        out = model[:2](x)
        loss = model[2:](out).square().mean()
    features = model[0](x).detach()
    for k, bn in enumerate(plain):
        expected = bn.train()(features[2 * k:2 * k + 2])
        torch.testing.assert_close(out[2 * k:2 * k + 2], expected)
        torch.testing.assert_close(model[1].running_mean[k], bn.running_mean)
    loss.backward()
    optimizer.step()

    # Calibration: bank 1's statistics become those of the new frames (the
    # unbiased variance of a BN with momentum=None over one batch); bank 0's
    # stay.
    frames = torch.randn(6, 3, 8, 8, dtype=torch.float64) * 2 - 1
    bank0 = model[1].running_mean[0].clone()
    model.eval()
    cn_seg.calibrate_bank(model, [frames], bank=1)
    var, mean = torch.var_mean(model[0](frames).detach(), dim=(0, 2, 3))
    torch.testing.assert_close(model[1].running_mean[1], mean)
    torch.testing.assert_close(model[1].running_var[1], var)
    torch.testing.assert_close(model[1].running_mean[0], bank0)

    # Folding bank 1 gives the plain model that computes what CN computes
    # on bank 1.
    with cn_seg.domain_routing(model, [1] * 6), torch.no_grad():
        routed = model(frames)
    folded = cn_seg.fold_cn(model, 1)
    assert [type(m).__name__ for m in folded
            ] == ['Conv2d', 'BatchNorm2d', 'ReLU', 'Conv2d', 'GroupNorm']
    with torch.no_grad():
        torch.testing.assert_close(folded(frames), routed)
    print('OK', sorted(m for m in sys.modules if m.split('.')[0] in REFUSED))


if __name__ == '__main__':
    main()

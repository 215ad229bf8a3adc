"""Folding CN layers into the plain norm of one bank, for deployment."""
from torch import nn

from .norms import ConsistentNorm
from .norms.plain_norms import build_plain_norm
from .routing import disable_domain_routing


def _fold_layer(layer: ConsistentNorm, domain: int) -> nn.Module:
    plain = build_plain_norm(layer.norm_cfg, layer.num_features)
    floats = [
        t for t in list(layer.parameters()) + list(layer.buffers())
        if t.is_floating_point()
    ]
    if floats:  # the layer's device and dtype (e.g. a float64 model)
        plain.to(floats[0])
    state = {
        name: tensor[domain]
        for name, tensor in layer.state_dict().items()
    }
    plain.load_state_dict(state)
    for name, param in plain.named_parameters():
        param.requires_grad = getattr(layer, name).requires_grad
    return plain.train(layer.training)


def fold_cn(model: nn.Module, domain: int = 0) -> nn.Module:
    """Replace every CN layer by the plain norm holding bank ``domain``.

    The result computes in eval mode what the CN model computes on that
    domain, with the module types, parameters and cost of a model built
    without CN (each layer becomes what its inner ``norm_cfg`` builds, e.g.
    ``nn.BatchNorm2d`` or ``nn.SyncBatchNorm``). The model is changed in place
    and returned; a CN layer passed alone is returned folded.

    Args:
        model (nn.Module): A model with CN layers.
        domain (int): The bank to keep. Default: 0.

    Returns:
        nn.Module: The folded model.

    Raises:
        ValueError: If ``domain`` is not a bank of some CN layer.
    """
    layers = [m for m in model.modules() if isinstance(m, ConsistentNorm)]
    for layer in layers:
        if not 0 <= domain < layer.num_domains:
            raise ValueError(f'fold_cn(domain={domain}) but a CN layer has '
                             f'{layer.num_domains} banks; choose a domain in '
                             f'[0, {layer.num_domains}).')
    if isinstance(model, ConsistentNorm):
        return _fold_layer(model, domain)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, ConsistentNorm):
                setattr(parent, name, _fold_layer(child, domain))
    disable_domain_routing(model)
    return model

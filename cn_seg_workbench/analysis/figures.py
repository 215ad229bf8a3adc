"""Matplotlib without a display, as the analysis tools use it."""


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path: str, dpi: int = 120) -> str:
    """Save ``fig`` to ``path`` and close it; return ``path``."""
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path

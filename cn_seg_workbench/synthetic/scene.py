"""Random street-like layouts of the 19 Cityscapes classes.

A layout is a list of ``(label name, polygon)`` drawn back to front, with
coordinates in ``[0, 1]`` (x right, y down) so that each domain scales it to
its own frame size. Sky is on top, buildings, vegetation, walls and fences
stand on the horizon, the road narrows towards a vanishing point between two
sidewalks and terrain, and poles with lights and signs, people, riders and
vehicles stand on the ground, larger the nearer they are.
"""
from typing import List, Tuple

import numpy as np

Polygon = List[Tuple[float, float]]
Layout = List[Tuple[str, Polygon]]


def _rect(x0, y0, x1, y1) -> Polygon:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _ellipse(cx, cy, rx, ry, n=12) -> Polygon:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


class _Street:
    """Ground geometry of one scene: horizon, vanishing point, road edges."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.horizon = rng.uniform(0.38, 0.5)
        self.vx = rng.uniform(0.4, 0.6)
        self.road_l, self.road_r = rng.uniform(0.0, 0.2), rng.uniform(0.8, 1.)
        self.walk = rng.uniform(0.12, 0.22)

    def depth(self, y: float) -> float:
        """0 at the horizon, 1 at the bottom of the frame."""
        return (y - self.horizon) / (1 - self.horizon)

    def road_x(self, y: float, edge: float) -> float:
        """x of a road line that meets the bottom at ``edge``."""
        return self.vx + (edge - self.vx) * self.depth(y)

    def ground(self) -> Layout:
        h, b = self.horizon, 1.0
        out = [('terrain', _rect(0, h, 1, 1))]
        for edge, side in ((self.road_l, -1), (self.road_r, 1)):
            outer = edge + side * self.walk * 1.5
            out.append(('sidewalk', [(self.vx, h), (outer, b), (edge, b)]))
        out.append(('road', [(self.vx, h), (self.road_r, b),
                             (self.road_l, b)]))
        if self.rng.random() < 0.4:  # a parking bay: ignored in training
            y = self.rng.uniform(h + 0.2, 0.9)
            x = self.road_x(y, self.road_r)
            out.append(('parking', _rect(x - 0.08, y, x, y + 0.06)))
        return out

    def skyline(self) -> Layout:
        out: Layout = [('sky', _rect(0, 0, 1, self.horizon + 0.01))]
        x = -self.rng.uniform(0, 0.1)
        while x < 1:
            w = self.rng.uniform(0.08, 0.22)
            top = self.horizon - self.rng.uniform(0.12, 0.4)
            kind = self.rng.choice(['building'] * 4 + ['vegetation'])
            if kind == 'vegetation':
                out.append((kind,
                            _ellipse(x + w / 2, top + 0.08, w / 2,
                                     self.horizon - top)))
            else:
                out.append((kind, _rect(x, top, x + w, self.horizon + .02)))
            x += w
        for kind, height in (('wall', 0.06), ('fence', 0.05)):
            if self.rng.random() < 0.8:
                x0 = self.rng.uniform(0, 0.7)
                out.append((kind,
                            _rect(x0, self.horizon - height,
                                  x0 + self.rng.uniform(0.12, 0.3),
                                  self.horizon + 0.02)))
        return out

    def on_ground(self, side: str) -> Tuple[float, float, float]:
        """A random foot point ``(x, y)`` on the road or a sidewalk, scale."""
        y = self.rng.uniform(self.horizon + 0.08, 0.98)
        s = self.depth(y)
        if side == 'road':
            x = self.rng.uniform(
                self.road_x(y, self.road_l + 0.1),
                self.road_x(y, self.road_r - 0.1))
        else:
            edge = self.road_l if side == 'left' else self.road_r
            sign = -1 if side == 'left' else 1
            x = self.road_x(y, edge) + sign * self.rng.uniform(0.01, 0.08) * s
        return x, y, s


def _pole(st: _Street) -> Tuple[float, Layout]:
    x, y, s = st.on_ground(st.rng.choice(['left', 'right']))
    top = y - 0.55 * s - 0.05
    w = 0.006 + 0.012 * s
    out: Layout = [('pole', _rect(x - w, top, x + w, y))]
    if st.rng.random() < 0.5:
        out.append(('traffic light',
                    _rect(x - 2.5 * w, top - 0.1 * s - .02, x + 2.5 * w,
                          top + 0.01)))
    else:
        r = 0.03 * s + 0.01
        out.append(('traffic sign', _ellipse(x, top, r, r, 8)))
    return y, out


def _person(st: _Street, label='person', base=None) -> Tuple[float, Layout]:
    x, y, s = base or st.on_ground(st.rng.choice(['left', 'right']))
    h, w = 0.3 * s + 0.04, 0.035 * s + 0.008
    return y, [(label, _rect(x - w, y - h * 0.8, x + w, y)),
               (label, _ellipse(x, y - h * 0.88, w * 0.8, h * 0.1, 8))]


_VEHICLE_SIZES = dict(
    car=(0.22, 0.13),
    truck=(0.25, 0.25),
    bus=(0.35, 0.28),
    train=(0.5, 0.25),
    motorcycle=(0.07, 0.08),
    bicycle=(0.06, 0.07))


def _vehicle(st: _Street, label: str) -> Tuple[float, Layout]:
    x, y, s = st.on_ground('road')
    w, h = (v * (s + 0.15) for v in _VEHICLE_SIZES[label])
    out: Layout = [(label, _rect(x - w / 2, y - h, x + w / 2, y))]
    if label == 'car':
        out.append((label, _rect(x - w / 3, y - h * 1.45, x + w / 3, y - h)))
    if label in ('motorcycle', 'bicycle'):
        out += _person(st, 'rider', (x, y - h * 0.5, s))[1]
    return y, out


def street_layout(rng: np.random.Generator) -> Layout:
    """Draw one random street scene.

    Args:
        rng (np.random.Generator): The scene's random generator.

    Returns:
        list[tuple[str, list[tuple[float, float]]]]: Objects back to front.
    """
    st = _Street(rng)
    out = st.skyline() + st.ground()
    if rng.random() < 0.3:
        x, y, _ = st.on_ground('left')
        out.append(('static', _ellipse(x, y, 0.03, 0.02)))
    kinds = (['pole'] * 3 + ['person'] * 3 + ['car'] * 3 +
             ['truck', 'bus', 'train', 'motorcycle', 'bicycle'])
    things = []
    for kind in rng.choice(kinds, size=rng.integers(6, 11)):
        if kind == 'pole':
            things.append(_pole(st))
        elif kind == 'person':
            things.append(_person(st))
        else:
            things.append(_vehicle(st, str(kind)))
    for _, objects in sorted(things, key=lambda t: t[0]):  # far to near
        out += objects
    return out

"""The shared synthetic domains (``tests/synthetic.py``) for these tests."""
from ..synthetic import synthetic  # noqa: F401  (the session fixture)

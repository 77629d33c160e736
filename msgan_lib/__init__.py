"""msgan: Deep Multi-Scale Video Prediction Beyond Mean Square Error, in PyTorch.

A reproduction of Mathieu, Couprie & LeCun (ICLR 2016, arXiv:1511.05440), taught chapter by
chapter on Ms. Pac-Man in ``book/``. Modules mirror the chapters: ``data`` (01), ``model``
(02), ``losses`` (03), ``train`` (04), ``predict`` and ``metrics`` (05), plus ``config``,
``viz``, ``fileio`` and ``cli``.
"""

__version__ = "0.1.0"

"""msgan: Deep Multi-Scale Video Prediction Beyond Mean Square Error, in PyTorch.

A reproduction of Mathieu, Couprie & LeCun (ICLR 2016, arXiv:1511.05440), taught chapter by
chapter on Ms. Pac-Man in ``book/``. The modules follow the pipeline: ``frames``,
``pacman``, ``motion`` and ``clips`` (chapter 01), ``model`` (02), ``losses`` (03),
``feed``, ``step``, ``runlog``, ``train`` and ``checkpoint`` (04), ``predict``, ``metrics``
and ``evaluate`` (05), ``dream`` (06, beyond the paper: action-conditioned prediction
against the emulator), with ``config``, ``runtime``, ``viz``, ``fileio`` and ``cli`` beside
them.
"""

__version__ = "0.1.0"

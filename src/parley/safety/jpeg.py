"""Moved to :mod:`parley.jpeg` (the store checks stills too, and may not import safety); kept
for ``safety.video``'s import until the gateway package work moves that import."""

from parley.jpeg import JPEG_MAGIC, jpeg_size

__all__ = ["JPEG_MAGIC", "jpeg_size"]

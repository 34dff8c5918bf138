"""Parley: meet strangers at random, with a design that keeps them safe."""

__version__ = "0.1.0"

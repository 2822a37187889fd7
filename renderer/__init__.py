"""Chaos Canvas renderer: chain events -> job store -> render -> pin -> commit."""

__version__ = "0.1.0"

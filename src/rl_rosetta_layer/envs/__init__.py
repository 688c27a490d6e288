"""Environments: the seed's video-like grid and its vectorised form."""

from .grid import ACTION_NAMES, GridConfig, VectorVideoGrid, VideoGridEnv
from .registry import ENV_NAMES, make_vector_env

__all__ = ["ACTION_NAMES", "ENV_NAMES", "GridConfig", "VectorVideoGrid", "VideoGridEnv",
           "make_vector_env"]

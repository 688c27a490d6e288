"""The version of this package, in a module of its own: :mod:`.provenance` reads it without
importing the package root (which imports :mod:`.api` lazily, and so everything).
"""

__version__ = "0.1.0"

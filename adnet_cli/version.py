"""The package version, in a leaf every module may import (the package itself imports its API lazily)."""

__version__ = "0.1.0"

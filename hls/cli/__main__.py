"""``python -m hls.cli``: the ``kappa`` command."""

from .main import entry

if __name__ == "__main__":
    entry()

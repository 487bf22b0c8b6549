"""tinygraph: an autograd engine on numpy."""

__version__ = "0.1.0"

"""The installed version of Tether."""

__version__ = "0.1.0"

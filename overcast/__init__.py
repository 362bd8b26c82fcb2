"""Overcast: an open-source compute cloud in the shape of OpenStack Nova."""

__version__ = "0.1.0"

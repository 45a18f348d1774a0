"""Sangdam (상담): the customer center of a Korean card company."""

__version__ = "0.1.0"

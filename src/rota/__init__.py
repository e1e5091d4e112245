"""Rota: a self-hosted job and process engine."""

__version__ = "0.1.0"

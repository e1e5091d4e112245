"""The ``rota`` command: a thin face over :mod:`rota.services`."""

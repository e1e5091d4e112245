"""Job kinds, the ``@job`` decorator, project loading and the run context handed to job code."""

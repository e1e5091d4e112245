"""Files ``rota init`` copies into a new project (``project/``), read with importlib.resources.

They are real files, not strings in code: ``project/jobs/hello.py`` is linted and type-checked
with the rest of the package, and the acceptance tests run every generated job.
"""

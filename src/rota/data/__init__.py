"""Data jobs: import, update, delete and transfer records, declared in YAML, not programmed.

A data job reads a **source** (CSV, XLSX, JSON, NDJSON; SQL queries and HTTP APIs next), maps
each record through a **mapping** (fields, constants, transforms, validation) and applies an
**action** to a **target** (a table on a named connection, or a file for transfers), matching
existing records by the **match** keys. Every record gets a record result.

This package holds the pure and near-pure parts; the executor that runs a data job lives in
``rota.jobs.executors``.
"""

"""Application operations: the one entry point of the CLI, the API and the dashboard.

Rules (validation, confirmation of destructive jobs, who may do what) live here once.
"""

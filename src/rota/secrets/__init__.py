"""Rota's secret store: values encrypted with a key that never enters the database, resolved
into a run only while it runs, and masked in everything the run reports."""

"""The vocabulary of Rota as dataclasses and enums: no I/O here."""

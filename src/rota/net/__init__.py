"""Outgoing network access: every HTTP request Rota makes itself goes through :mod:`.guard`."""

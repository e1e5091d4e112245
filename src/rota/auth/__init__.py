"""Users, roles, API tokens and permission checks: the pure rules (``roles``) and the secrets
(``passwords``, ``tokens``). Persistence is the store's; enforcement is the services'."""

"""HTTP faces of Rota."""

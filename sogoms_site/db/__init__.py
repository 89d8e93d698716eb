"""The database layer of SOGOMS: Django's backends with what the site needs changed, and
many rows in one INSERT (bulk)."""

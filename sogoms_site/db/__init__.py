"""Django database backends of SOGOMS: the stock ones with what the site needs changed."""

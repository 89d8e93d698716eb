"""The first release: a table, then a column added in the expand way (a database default)."""

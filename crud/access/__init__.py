"""Access rules of schema tables: `access:` per operation, `read:`/`write:` per field.

grammar (text to AST), check (against the table and the tenant's roles, at load),
compile (AST to Q for a caller), evaluate (on an in-memory row), rules (the rule of an
operation, the defaults), callers (the anonymous caller of public reads).
"""

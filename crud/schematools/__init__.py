"""The schema CLI (seed phase 15b): validate, generate, diff, migrate and init."""

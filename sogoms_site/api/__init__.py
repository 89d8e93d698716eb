"""The one response contract of every tenant API: envelope, error codes, renderer, parser."""

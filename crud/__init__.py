"""The resource engine: generic CRUD over tenant tables declared in YAML."""

"""The two front-ends of the resource engine: schema YAML and v1 query YAML."""

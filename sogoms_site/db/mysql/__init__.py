"""MariaDB/MySQL: Django's backend, health-checking only connections that sat idle."""

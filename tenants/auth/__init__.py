"""Tenant auth: users in the tenant's database, JWT signed with the tenant's own secret."""

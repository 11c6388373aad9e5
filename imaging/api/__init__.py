"""REST API v1 for internal tools. Paths and field names are a contract: see README.md here."""

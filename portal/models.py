"""No models. The module is here because `migrate` sends post_migrate only to apps that have
one, and on that signal this app creates the database cache table (portal/apps.py)."""

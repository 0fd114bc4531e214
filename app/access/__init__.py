"""Who may do what: projects, API keys and their scopes, the dependency that checks them on
every request, and the per-key rate limit."""

"""Write operations. Every interface (portal, API, admin, CI, webhooks, tasks) calls these, never the ORM."""

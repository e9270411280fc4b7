"""The outbox: every message the bot starts itself, delivered after the commit that decided it by
one rate-limited sender that holds a lease (one process of the deployment at a time)."""

"""PostgreSQL: schema migrations and typed repositories (asyncpg)."""

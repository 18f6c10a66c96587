import os

from django.db import connection


def manage_env(**extra) -> dict:
    """Environment for a child process (manage.py, a worker) that must use this test's database."""
    env = dict(os.environ)
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        user = settings["USER"] or "postgres"
        host = settings["HOST"] or "127.0.0.1"
        port = settings["PORT"] or 5432
        env["DATABASE_URL"] = f"postgres://{user}@{host}:{port}/{settings['NAME']}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{settings['NAME']}"
    env.update(extra)
    return env

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from audit.database_roles import RoleError, grant_app_role


class Command(BaseCommand):
    help = (
        "PostgreSQL: grant ROLE what the web, workers and beat need, with only SELECT and INSERT "
        "on the audit tables. Run as the tables' owner after every migrate."
    )

    def add_arguments(self, parser):
        parser.add_argument("role", help="the application's login role (not the owner)")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, **options):
        connection = connections[options["database"]]
        if connection.vendor != "postgresql":
            raise CommandError("database roles exist on PostgreSQL only")
        try:
            with transaction.atomic(using=options["database"]):
                statements = grant_app_role(connection, options["role"])
        except RoleError as exc:
            raise CommandError(str(exc)) from None
        for statement in statements:
            self.stdout.write(statement, self.style.SQL_KEYWORD)
        self.stdout.write(f"granted the application's rights to {options['role']!r}")

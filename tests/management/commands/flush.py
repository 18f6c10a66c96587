"""The suite's flush: empties the audit tables too, which production refuses.

Between transactional tests Django flushes every table, and on PostgreSQL a
flush is one TRUNCATE, which the audit tables' triggers refuse. This command
(found only because the test settings install the ``tests`` app) runs the
usual flush in a transaction that sets ``govreg.allow_truncate``, the one
escape those triggers honour; the setting ends with the transaction.

It never restarts the tables' id sequences (flush's default when called by hand):
each transactional test gets back the migrated rows with their original ids
(serialized rollback, tests/conftest.py), so new ids must go on past them.
"""

from django.core.management.commands import flush
from django.db import connections, transaction


class Command(flush.Command):
    def handle(self, **options):
        options["reset_sequences"] = False
        connection = connections[options["database"]]
        if connection.vendor != "postgresql":
            return super().handle(**options)
        with transaction.atomic(using=options["database"]):
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL govreg.allow_truncate = on")
            return super().handle(**options)

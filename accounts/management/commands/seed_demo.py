from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import demo
from audit.context import acting_as


class Command(BaseCommand):
    help = "Create demo users (one per role) and demo data. Safe to run again."

    def handle(self, *args, **options):
        with acting_as(name="manage.py seed_demo"), transaction.atomic():
            context = demo.run_all()
        self.stdout.write(f"Demo users (password for all: {demo.DEMO_PASSWORD}):")
        for username, (roles, teams, _) in demo.DEMO_USERS.items():
            if username in context["users"]:
                where = f" in {', '.join(teams)}" if teams else ""
                self.stdout.write(f"  {username:<10} {', '.join(roles)}{where}")

from django.core.management.base import BaseCommand, CommandError

from accounts import demo
from audit.context import acting_as


class Command(BaseCommand):
    help = (
        "Create the demo users (one per role) and tell the demo story through the services, "
        "dated relative to now. Safe to run again: what exists is left as it is."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--quiet-story", action="store_true", help="Do not print the story's chapters."
        )

    def handle(self, *args, **options):
        def told(chapter, when):
            if not options["quiet_story"]:
                self.stdout.write(f"  {when:%Y-%m-%d}  {chapter.summary}")

        if not options["quiet_story"]:
            self.stdout.write("Demo story:")
        try:
            with acting_as(name="manage.py seed_demo"):
                context = demo.run_all(on_chapter=told)
        except demo.StoryConflict as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Demo users (password for all: {demo.DEMO_PASSWORD}):")
        for username, (roles, teams, _) in demo.DEMO_USERS.items():
            if username in context["users"]:
                where = f" in {', '.join(teams)}" if teams else ""
                self.stdout.write(f"  {username:<10} {', '.join(roles)}{where}")

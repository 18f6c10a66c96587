"""Demo data for ``make run``: users for every role, then one story told in time order.

The story is a list of chapters that the apps register with ``chapter(days_ago)``.
``run_all`` plays them oldest first, each with the clock set to its moment (so
every timestamp the services write, records and audit trail alike, is the
story's: a version is registered before it is deployed, an approval is given
before the deployment it allows). Dates are relative to the moment of seeding,
so the story is always current. Chapters act only through the apps' services,
as the people and pipelines of the story; each looks its records up by their
natural keys first, so telling the story again changes nothing, and a story
interrupted half way (each chapter is one transaction) is finished by the next
run.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from accounts.roles import Role
from audit.context import acting_as

DEMO_PASSWORD = "govreg-demo"  # noqa: S105 - printed by make run for local use only
TEAMS = ("credit-risk", "fraud-detection", "customer-support")
STORY_DAYS = 180  # the users join this many days before the seeding

# username -> (roles, teams, is_superuser)
DEMO_USERS = {
    "admin": ((Role.ADMIN,), (), True),
    "board": ((Role.BOARD,), (), False),
    "approver": ((Role.APPROVER,), ("credit-risk",), False),
    "approver2": ((Role.APPROVER,), ("credit-risk", "fraud-detection"), False),
    "approver3": ((Role.APPROVER,), ("fraud-detection", "customer-support"), False),
    "engineer": ((Role.ML_ENGINEER,), ("credit-risk",), False),
    "auditor": ((Role.AUDITOR,), (), False),
    "pipeline": ((Role.PIPELINE,), TEAMS, False),
}


class StoryConflict(Exception):
    """The database holds records the story would contradict (another demo, real data)."""


@dataclass(frozen=True)
class Chapter:
    """One moment of the demo story: ``days_ago`` days before the seeding."""

    days_ago: float
    seq: int
    tell: Callable[[dict], None]

    @property
    def summary(self) -> str:
        """The first paragraph of the chapter's docstring, on one line."""
        text = (self.tell.__doc__ or self.tell.__name__).strip().split("\n\n")[0]
        return " ".join(text.split())


_chapters: list[Chapter] = []


def chapter(days_ago: float):
    """Register a chapter of the story; chapters at the same moment run in registration
    order (the apps' import order, lowest app first)."""

    def decorator(func):
        _chapters.append(Chapter(days_ago, len(_chapters), func))
        return func

    return decorator


def chapters() -> list[Chapter]:
    return sorted(_chapters, key=lambda c: (-c.days_ago, c.seq))


def later(context: dict, **delta) -> datetime:
    """Move the story's clock on within a chapter (``minutes=6``); returns the new now."""
    context["clock"].shift(timedelta(**delta))
    return timezone.now()


def as_user(context: dict, username: str):
    """Act as one of the demo users: the audit trail names them."""
    return acting_as(context["users"][username])


def seed_users() -> dict:
    """The demo's people and the CI service account, one per role, in their teams."""
    user_model = get_user_model()
    users = {}
    for team in TEAMS:
        Group.objects.get_or_create(name=team)
    for username, (roles, teams, is_superuser) in DEMO_USERS.items():
        user, created = user_model.objects.get_or_create(
            username=username,
            defaults={
                "email": f"{username}@example.com",
                "is_staff": True,
                "is_superuser": is_superuser,
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        missing = Group.objects.filter(name__in=[*roles, *teams]).exclude(user=user)
        if missing:
            user.groups.add(*missing)
        users[username] = user
    return users


def run_all(now: datetime | None = None, *, on_chapter=None) -> dict:
    """Seed the users, then tell every chapter at its moment; ``on_chapter(chapter, when)``
    is called before each one (the command prints the story with it)."""
    now = now or timezone.now()
    context = {"now": now}
    with time_machine.travel(now - timedelta(days=STORY_DAYS), tick=False), transaction.atomic():
        context["users"] = seed_users()
    for item in chapters():
        when = now - timedelta(days=item.days_ago)
        if on_chapter is not None:
            on_chapter(item, when)
        # One transaction per chapter: what runs on its commit (notices, tasks in eager
        # mode) runs at the chapter's moment and sees the story as it was then.
        with time_machine.travel(when, tick=False) as clock, transaction.atomic():
            context["clock"] = clock
            item.tell(context)
    context.pop("clock", None)
    return context

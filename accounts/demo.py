"""Demo data for ``make run``: users for every role, then each app's story.

Apps register a seeder with ``register(order)``; ``seed_demo`` runs them in
order. Every seeder must be safe to run again.
"""

from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from accounts.roles import Role

_seeders: list[tuple[int, str, Callable[[dict], None]]] = []

DEMO_PASSWORD = "govreg-demo"  # noqa: S105 - printed by make run for local use only
TEAMS = ("credit-risk", "fraud-detection", "customer-support")

# username -> (roles, teams, is_superuser)
DEMO_USERS = {
    "admin": ((Role.ADMIN,), (), True),
    "board": ((Role.BOARD,), (), False),
    "approver": ((Role.APPROVER,), ("credit-risk",), False),
    "approver2": ((Role.APPROVER,), ("credit-risk", "fraud-detection"), False),
    "engineer": ((Role.ML_ENGINEER,), ("credit-risk",), False),
    "auditor": ((Role.AUDITOR,), (), False),
    "pipeline": ((Role.PIPELINE,), TEAMS, False),
}


def register(order: int):
    def decorator(func):
        _seeders.append((order, func.__module__, func))
        return func

    return decorator


def seed_users() -> dict:
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
        user.groups.add(*Group.objects.filter(name__in=[*roles, *teams]))
        users[username] = user
    return users


def run_all() -> dict:
    context = {"users": seed_users()}
    for _, _, seeder in sorted(_seeders, key=lambda item: (item[0], item[1])):
        seeder(context)
    return context

"""Saving a playbook and freezing each content change into a PlaybookVersion."""

from django.db import transaction

from accounts.permissions import grant_team_access
from playbooks.models import Playbook, PlaybookVersion


def _snapshot(playbook: Playbook) -> dict:
    return {
        "name": playbook.name,
        "description": playbook.description,
        "triggers": {
            "risk_category": playbook.risk_category,
            "label_matchers": playbook.label_matchers or {},
            "unthresholded_is_critical": playbook.unthresholded_is_critical,
            "thresholds": sorted(playbook.thresholds.values_list("pk", flat=True)),
        },
        "steps": playbook.steps,
        "decision_tree": playbook.decision_tree or [],
        "escalation_chain": playbook.escalation_chain,
    }


def _same(version: PlaybookVersion, snapshot: dict) -> bool:
    return all(getattr(version, key) == value for key, value in snapshot.items())


def publish_version(playbook: Playbook, *, user=None) -> PlaybookVersion:
    """The playbook's current content as a version: the latest one if nothing changed,
    else a new immutable one. Locks the playbook so two editors get distinct numbers."""
    with transaction.atomic():
        locked = Playbook.objects.select_for_update().get(pk=playbook.pk)
        snapshot = _snapshot(locked)
        latest = locked.versions.order_by("-number").first()
        if latest is not None and _same(latest, snapshot):
            return latest
        number = (latest.number if latest else 0) + 1
        version = PlaybookVersion.objects.create(
            playbook=locked,
            number=number,
            created_by=user if getattr(user, "is_authenticated", False) else None,
            **snapshot,
        )
        Playbook.objects.filter(pk=locked.pk).update(current_version=number)
        playbook.current_version = number
        return version


def save_playbook(playbook: Playbook, *, user=None, thresholds=None) -> PlaybookVersion:
    """Validate and save a playbook (new or edited) and publish its version. A new
    playbook gives its team view, change and delete rights on it."""
    with transaction.atomic():
        creating = playbook.pk is None
        playbook.full_clean()
        playbook.save()
        if creating:
            grant_team_access(playbook, playbook.team)
        if thresholds is not None:
            playbook.thresholds.set(thresholds)
        return publish_version(playbook, user=user)


def latest_version(playbook: Playbook) -> PlaybookVersion | None:
    return playbook.versions.order_by("-number").first()

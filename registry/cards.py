"""Public model cards: the owning team asks to publish chosen fields of a model's card,
the ``publish-card`` decision right names who approves, and ``/cards/<model>`` shows
what was approved to anyone, signed in or not.

The public page is composed of *sections* the apps register (as the dossier is): the
registry shows the card's approved fields; the risk register the evaluation kinds the
live version passed; the playbooks the incidents' public notices and the feedback
form. A section returns plain data for the JSON form and names the template that
renders it in the page; it reads only what it means to publish."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.permissions import may
from accounts.roles import roles_of
from audit.services import record_decision
from config.errors import Conflict, Refused
from registry.choices import CardStatus, DecisionAction, DeploymentState
from registry.gate import decisions
from registry.models import PUBLIC_CARD_FIELDS, Deployment, MLModel, PublicCard

__all__ = [
    "PublicSection",
    "approve_publication",
    "public_card",
    "public_sections",
    "public_section",
    "request_publication",
    "serving_deployment",
    "withdraw_publication",
]

FIELD_LABELS = {
    "intended_use": "Intended use",
    "out_of_scope_uses": "Out-of-scope uses",
    "capabilities": "Capabilities",
    "known_limitations": "Known limitations",
}


# --- the publish-card decision -------------------------------------------------------


def _right(model):
    right = decisions.rights_for(DecisionAction.PUBLISH_CARD, model)
    if right is None:
        raise Refused(
            f"No publish-card decision right covers {model.name}; an admin writes one.",
            field="model",
        )
    if right.forbidden:
        raise Refused(f"Decision right {right}: the card of {model.name} is never published.")
    return right


def _approvals(card) -> list[SimpleNamespace]:
    return [
        SimpleNamespace(
            approver_id=item["approver_id"],
            roles=item["roles"],
            created_at=datetime.fromisoformat(item["created_at"]),
        )
        for item in card.approvals
    ]


def _publish(card, now) -> None:
    card.status = CardStatus.PUBLISHED
    card.published_fields = dict(card.requested_fields)
    card.published_at = now
    card.withdrawn_at = None
    card.withdrawn_reason = ""


def request_publication(model: MLModel, user, flags: dict, *, now=None) -> PublicCard:
    """The owning team asks to publish the fields ``flags`` marks true (of
    ``PUBLIC_CARD_FIELDS``), with the card's text as it is now. Under a publish-card
    right that needs no approval it is public at once; else it waits for the approvers
    (``approve_publication``) while an earlier approved text stays public."""
    now = now or timezone.now()
    if not may(user, "change", model):
        raise Refused(f"Only {model.team.name}'s members ask to publish this card.", field="model")
    right = _right(model)
    unknown = sorted(set(flags) - set(PUBLIC_CARD_FIELDS))
    if unknown:
        raise ValidationError({unknown[0]: f"Not a publishable field; use {PUBLIC_CARD_FIELDS}."})
    chosen = [name for name in PUBLIC_CARD_FIELDS if flags.get(name)]
    if not chosen:
        raise ValidationError({"fields": "Mark at least one field of the card publishable."})
    empty = [name for name in chosen if not str(getattr(model, name)).strip()]
    if empty:
        raise ValidationError({empty[0]: "The card says nothing here yet; write it first."})
    with transaction.atomic():
        card, _ = PublicCard.objects.select_for_update().get_or_create(model=model)
        for name in PUBLIC_CARD_FIELDS:
            setattr(card, f"publish_{name}", name in chosen)
        card.requested_fields = {name: getattr(model, name) for name in chosen}
        card.requested_by = user
        card.requested_at = now
        card.approvals = []
        card.status = CardStatus.PENDING
        if not right.required_approvals:
            _publish(card, now)
        card.save()
        record_decision("card.request", card, model=model.name, fields=chosen, status=card.status)
    return card


def approve_publication(model: MLModel, user, *, comment: str = "", now=None) -> PublicCard:
    """An approver decides on the open publication request; the last approval the
    right asks for publishes the text as it was asked."""
    now = now or timezone.now()
    right = _right(model)
    allowed, reason = decisions.can_approve(user, DecisionAction.PUBLISH_CARD, model)
    if not allowed:
        raise Refused(reason)
    with transaction.atomic():
        card = PublicCard.objects.select_for_update().filter(model=model).first()
        if card is None or card.status != CardStatus.PENDING:
            raise Conflict("No publication of this card waits for approval.", field="status")
        if right.separation_of_duties and card.requested_by_id == user.pk:
            raise Refused("You asked for this publication; another approver decides.")
        if any(item["approver_id"] == user.pk for item in card.approvals):
            raise Conflict("You have already approved this publication.", field="approver")
        card.approvals = [
            *card.approvals,
            {
                "approver_id": user.pk,
                "approver": user.get_username(),
                "roles": decisions.roles_snapshot(user),
                "created_at": now.isoformat(),
                "comment": comment,
            },
        ]
        excluded = {card.requested_by_id} if right.separation_of_duties else set()
        complete, missing = decisions.tally(right, _approvals(card), excluded, now)
        if complete:
            _publish(card, now)
        card.save()
        record_decision(
            "card.approve",
            card,
            model=model.name,
            roles=sorted(roles_of(user)),
            comment=comment,
            published=complete,
            missing=missing,
        )
    return card


def withdraw_publication(model: MLModel, user, *, reason: str, now=None) -> PublicCard:
    """Take the card off the public page (or drop a waiting request): the team or an
    approver of the model, with the reason."""
    now = now or timezone.now()
    if not (reason or "").strip():
        raise ValidationError({"reason": "Say why the card comes down."})
    allowed, _ = decisions.can_approve(user, DecisionAction.PUBLISH_CARD, model)
    if not (allowed or may(user, "change", model)):
        raise Refused("Only the model's team or its approvers withdraw its card.")
    with transaction.atomic():
        card = PublicCard.objects.select_for_update().filter(model=model).first()
        if card is None or card.status not in (CardStatus.PENDING, CardStatus.PUBLISHED):
            raise Conflict("This card is neither published nor waiting.", field="status")
        card.status = CardStatus.WITHDRAWN
        card.withdrawn_at = now
        card.withdrawn_reason = reason.strip()
        card.published_fields = {}
        card.approvals = []
        card.save()
        record_decision("card.withdraw", card, model=model.name, reason=card.withdrawn_reason)
    return card


# --- what the public page reads ------------------------------------------------------


def public_card(name: str) -> PublicCard | None:
    """The published card of the model named ``name``, or None (unknown, never
    published, withdrawn): the public pages answer 404 alike."""
    return (
        PublicCard.objects.select_related("model")
        .filter(model__name=name, published_at__isnull=False, withdrawn_at__isnull=True)
        .first()
    )


def serving_deployment(model: MLModel, environment=None, at=None) -> Deployment | None:
    """The deployment that served ``model`` in ``environment`` at ``at`` (now by
    default), from the deployment history: deployed by then and not ended by then.
    Without an environment: the live one in the highest environment (production)."""
    if environment is None and at is None:
        return (
            Deployment.objects.filter(model=model, state=DeploymentState.LIVE)
            .select_related("model_version", "environment")
            .order_by("-environment__order")
            .first()
        )
    at = at or timezone.now()
    history = Deployment.objects.filter(
        model=model, environment=environment, deployed_at__lte=at
    ).exclude(state=DeploymentState.FAILED)
    return (
        (history.filter(ended_at__isnull=True) | history.filter(ended_at__gt=at))
        .select_related("model_version", "environment")
        .order_by("-deployed_at", "-pk")
        .first()
    )


@dataclass(frozen=True)
class PublicSection:
    key: str
    order: int
    template: str
    build: Callable  # (card, deployment) -> JSON-ready data, or None to leave it out


_SECTIONS: dict[str, PublicSection] = {}


def public_section(key: str, *, order: int, template: str):
    """Register ``build(card, deployment)`` as a section of the public card page."""

    def register(build):
        _SECTIONS[key] = PublicSection(key, order, template, build)
        return build

    return register


def public_sections() -> list[PublicSection]:
    return sorted(_SECTIONS.values(), key=lambda section: (section.order, section.key))


@public_section("card", order=100, template="registry/public/card_fields.html")
def _card_fields(card: PublicCard, deployment) -> list[dict]:
    """The approved text of the fields marked publishable, in the card's order."""
    return [
        {"field": name, "label": FIELD_LABELS[name], "text": card.published_fields[name]}
        for name in PUBLIC_CARD_FIELDS
        if name in card.published_fields
    ]

"""The public model card: ``/cards/<model>`` (a page) and ``/cards/<model>.json`` (the
same for products that embed it), answered to anyone, signed in or not. A model with
no published card, or none of that name, is a 404 alike. What appears is only what the
registered sections publish (``registry.cards``)."""

from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from registry.cards import public_card, public_sections, serving_deployment


def _composed(name: str):
    card = public_card(name)
    if card is None:
        raise Http404("No public card of this name.")
    deployment = serving_deployment(card.model)
    sections = [(section, section.build(card, deployment)) for section in public_sections()]
    return card, deployment, [(section, data) for section, data in sections if data is not None]


def render_card(request, name: str, *, extra: dict | None = None, status: int = 200):
    """The public card page; ``extra`` is more context for the sections' templates (the
    feedback form's errors and values when a submission is refused)."""
    card, deployment, sections = _composed(name)
    context = {
        "model_name": card.model.name,
        "live_version": deployment.model_version.version if deployment else "",
        "published_at": card.published_at,
        "sections": sections,
        **(extra or {}),
    }
    return render(request, "registry/public/page.html", context, status=status)


@require_GET
def card_page(request, name):
    return render_card(request, name)


@require_GET
def card_json(request, name):
    card, deployment, sections = _composed(name)
    body = {
        "model": card.model.name,
        "live_version": deployment.model_version.version if deployment else None,
        "published_at": card.published_at.isoformat(),
        **{section.key: data for section, data in sections},
    }
    response = JsonResponse(body, json_dumps_params={"ensure_ascii": False})
    response["Access-Control-Allow-Origin"] = "*"  # public by design, for embedding
    return response

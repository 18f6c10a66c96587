"""The playbooks' sections of the public model card: the incidents' published notices
(what is known, what was done, the safeguards in place, as the team wrote them for the
public) and the feedback form."""

from django.conf import settings
from django.urls import reverse

from playbooks.choices import FeedbackCategory, NoticeStatus
from playbooks.models import IncidentNotice
from registry.cards import public_section


@public_section("notices", order=300, template="playbooks/public/notices.html")
def published_notices(card, deployment) -> list[dict]:
    notices = IncidentNotice.objects.filter(
        incident__model=card.model, status=NoticeStatus.PUBLISHED
    ).order_by("-published_at", "-pk")
    return [
        {
            "title": notice.title,
            "published_at": notice.published_at.isoformat(),
            "what_is_known": notice.what_is_known,
            "what_was_done": notice.what_was_done,
            "safeguards": notice.safeguards,
        }
        for notice in notices
    ]


@public_section("feedback", order=400, template="playbooks/public/feedback_form.html")
def feedback_form(card, deployment) -> dict:
    return {
        "form": reverse("public-feedback", kwargs={"name": card.model.name}),
        "categories": [{"value": v, "label": label} for v, label in FeedbackCategory.choices],
        "max_chars": settings.GOVREG_FEEDBACK_MAX_CHARS,
    }

"""The public side of feedback: the form on a model's public card (``POST
/cards/<model>/feedback``, anonymous, CSRF-protected, rate-limited per client address,
size-limited, with a honeypot field bots fill in) and the reporter's status page
(``/feedback/<token>``, opened only by the token the reporter was given)."""

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from config.throttling import FeedbackThrottle
from playbooks.choices import FeedbackCategory, FeedbackChannel
from playbooks.services import feedback
from registry.cards import public_card, serving_deployment
from registry.models import Environment
from registry.ui.public import render_card

HONEYPOT = "website"


def _too_many(seconds) -> HttpResponse:
    wait = max(1, round(seconds or 1))
    response = HttpResponse(
        f"Too many reports from your address; try again in {wait} seconds.\n",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(wait)
    return response


def _body_limit() -> int:
    # the text (up to 4 bytes a character, form-encoded up to 3 times that) and the rest
    return settings.GOVREG_FEEDBACK_MAX_CHARS * 12 + 4096


@require_POST
def submit_feedback(request, name):
    card = public_card(name)
    if card is None:
        raise Http404("No public card of this name.")
    throttle = FeedbackThrottle()  # GOVREG_RATE_FEEDBACK reports per client address
    if not throttle.allow_request(request, None):
        return _too_many(throttle.wait())
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > _body_limit():
        return HttpResponse("The report is too long.\n", status=413, content_type="text/plain")
    text = request.POST.get("text", "")
    category = request.POST.get("category", FeedbackCategory.CONCERN)
    errors: dict[str, list[str]] = {}
    if request.POST.get(HONEYPOT):
        errors["form"] = ["Your report could not be sent."]
    if category not in FeedbackCategory.values:
        errors["category"] = ["Choose what kind of report this is."]
    if not text.strip():
        errors["text"] = ["Say what happened."]
    elif len(text) > settings.GOVREG_FEEDBACK_MAX_CHARS:
        errors["text"] = [f"Keep it under {settings.GOVREG_FEEDBACK_MAX_CHARS} characters."]
    if errors:
        extra = {"form_errors": errors, "form_values": {"text": text, "category": category}}
        return render_card(request, name, extra=extra, status=400)
    serving = serving_deployment(card.model)
    environment = serving.environment if serving else Environment.objects.order_by("-order").first()
    submitted = feedback.submit(
        card.model,
        environment,
        text=text,
        category=category,
        channel=FeedbackChannel.PUBLIC_FORM,
    )
    return redirect(reverse("feedback-status", kwargs={"token": submitted.token}) + "?sent=1")


@require_GET
def feedback_status(request, token):
    report = feedback.report_for_token(token)
    if report is None:
        raise Http404("No report with this link.")
    context = {
        "report": report,
        "reference": report.reference,
        "model_name": report.model.name,
        "sent": request.GET.get("sent") == "1",
        "status_url": request.build_absolute_uri(request.path),
    }
    response = render(request, "playbooks/public/feedback_status.html", context)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"  # the token is in the address
    return response

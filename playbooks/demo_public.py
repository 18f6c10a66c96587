"""Demo story, the public card and feedback chapters:

- day 36: after the drift review, engineer asks to publish loan-default's public card
  (intended use, out-of-scope uses, capabilities, known limitations); approver (not the
  requester) approves it under the publish-card decision right; engineer writes the
  drift incident's public notice (what is known, what was done, the safeguards in
  place) and publishes it: /cards/loan-default shows both.
- day 1.5: an applicant writes through the card's public form that a wrongful decline
  caused real harm; the keyword makes the report critical: it opens an incident on
  loan-default in production (the version then live, from the deployment history).
  engineer acknowledges and contains it within the hour, answers the reporter publicly
  (under review), resolves it three hours later and answers again (answered).
"""

from accounts.demo import as_user, chapter, later
from playbooks.choices import FeedbackCategory, FeedbackChannel, FeedbackStatus
from playbooks.demo import drift_incident
from playbooks.models import FeedbackReport
from playbooks.services import feedback, incidents, notices
from registry import cards
from registry.models import PUBLIC_CARD_FIELDS, Environment, MLModel, PublicCard

DEMO_FEEDBACK_TEXT = (
    "My loan was declined although my income is stable and my file is clean. "
    "The wrongful decline caused real harm: I lost the flat I was about to rent."
)


@chapter(days_ago=36)
def loan_default_public_card(context):
    """loan-default's card is published (engineer asks, approver approves) with the drift
    incident's public notice"""
    model = MLModel.objects.get(name="loan-default")
    incident = drift_incident()
    if incident is None or PublicCard.objects.filter(model=model).exists():
        return
    engineer, approver = context["users"]["engineer"], context["users"]["approver"]
    with as_user(context, "engineer"):
        cards.request_publication(model, engineer, dict.fromkeys(PUBLIC_CARD_FIELDS, True))
    later(context, hours=2)
    with as_user(context, "approver"):
        cards.approve_publication(
            model, approver, comment="Matches the card the board reviewed; nothing internal."
        )
    later(context, hours=1)
    with as_user(context, "engineer"):
        notices.save_notice(
            incident,
            engineer,
            title="Loan decisions after a change in credit bureau data",
            what_is_known="For about 40 minutes, 40 days ago, scores moved after our credit "
            "bureau changed how it bands its scores. Some applications were scored higher "
            "risk than they should have been.",
            what_was_done="We went back to the previous version of the model within 40 "
            "minutes and now translate the bureau's new bands before training.",
            safeguards="Changes in the bureau's data now raise an alert before they reach "
            "scores, and every decline above 0.8 is reviewed by an underwriter.",
        )
        notices.publish_notice(incident, engineer)


@chapter(days_ago=1.5)
def public_feedback_opens_incident(context):
    """an applicant's report through the public card's form says a wrongful decline
    caused harm: critical by keyword, it opens an incident; engineer contains and
    resolves it and answers the reporter"""
    model = MLModel.objects.get(name="loan-default")
    if FeedbackReport.objects.filter(model=model, text=DEMO_FEEDBACK_TEXT).exists():
        return
    submitted = feedback.submit(
        model,
        Environment.objects.get(name="production"),
        text=DEMO_FEEDBACK_TEXT,
        category=FeedbackCategory.CONCERN,
        channel=FeedbackChannel.PUBLIC_FORM,
    )
    report = submitted.report
    incident = report.signal.incident
    if incident is None:
        raise RuntimeError(f"demo story: the feedback opened no incident: {report.signal}")
    engineer = context["users"]["engineer"]
    later(context, minutes=20)
    with as_user(context, "engineer"):
        incidents.acknowledge(incident, engineer, note="Reading the applicant's report.")
        later(context, minutes=25)
        incidents.contain(
            incident,
            engineer,
            note="The application is re-scored by an underwriter; no pattern across other "
            "declines today.",
        )
        feedback.reply(
            report,
            engineer,
            text="Thank you for telling us. An underwriter is reviewing your application "
            "by hand and we are checking whether others were affected.",
            status=FeedbackStatus.UNDER_REVIEW,
        )
        later(context, hours=3)
        incidents.resolve(
            incident,
            engineer,
            note="A stale income figure from the applicant's bank feed; re-scored by hand "
            "and approved. No other application used a stale figure.",
        )
        feedback.reply(
            report,
            engineer,
            text="Thank you for telling us. An underwriter re-scored your application by hand "
            "and approved it; a stale income figure had been used. No one else was affected.",
        )

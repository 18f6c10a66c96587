"""Every admin page and action, walked by every role.

For each registered ModelAdmin and each role: the changelist, the add form, the
change form of one credit-risk record, a POST of that form as the browser would
send it, and every action the admin has (offered or forged). The board, auditors
and pipelines never change anything; the outsider never sees credit-risk's
records; the team's engineer and the admin can save what the API lets them
change.
"""

import pytest
from django.contrib import admin
from django.urls import reverse

from audit.models import AuditEvent
from tests.admin.conftest import READ_ONLY, ROLES
from tests.admin.forms import form_data

pytestmark = pytest.mark.django_db

ADMINS = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label_lower)

# Records the credit-risk team changes through the admin (the API lets it change them).
TEAM_WRITES = {
    "registry.mlmodel",
    "registry.modelversion",
    "registry.feature",
    "risk.risk",
    "risk.control",
    "risk.threshold",
    "playbooks.playbook",
    "playbooks.incident",
    "playbooks.postincidentreview",
    "playbooks.drill",
    "playbooks.actionitem",
}
# Records nobody changes in the admin: services write them.
NEVER_CHANGED = {
    "audit.auditevent",
    "audit.auditcheckpoint",
    "audit.auditexport",
    "audit.auditsigningkey",
    "accounts.apitoken",
    "accounts.ssoidentity",
    "accounts.ssogrant",
    "lineage.namespace",
    "lineage.dataset",
    "lineage.job",
    "lineage.run",
    "lineage.lineageevent",
    "lineage.jobversion",
    "lineage.runinput",
    "lineage.runoutput",
    "lineage.columnlineage",
    "lineage.jobdataset",
    "lineage.datasetsymlink",
    "lineage.tag",
    "lineage.fieldtag",
    "registry.featureversion",
    "registry.deployment",
    "registry.impactnotification",
    "registry.deploymentrequest",
    "risk.riskacceptance",
    "risk.evaluation",
    "risk.reminder",
    "risk.redteamexercise",
    "risk.redteamfinding",
    "risk.redteamreminder",
    "playbooks.playbookversion",
    "playbooks.signal",
    "playbooks.investigationtask",
    "vocabulary.assignment",
    "registry.publiccard",
    "playbooks.feedbackreport",
    "playbooks.incidentnotice",
}


# Records only the owning team (and the global readers) see: the outsider does not.
TEAM_SCOPED = TEAM_WRITES | {
    "registry.featureversion",
    "registry.deployment",
    "registry.impactnotification",
    "registry.deploymentrequest",
    "risk.riskacceptance",
    "risk.evaluation",
    "risk.reminder",
    "risk.redteamexercise",
    "risk.redteamfinding",
    "risk.redteamreminder",
    "playbooks.playbookversion",
    "playbooks.signal",
    "playbooks.investigationtask",
    "vocabulary.assignment",
    "registry.publiccard",
    "playbooks.feedbackreport",
    "playbooks.incidentnotice",
}
# Who sees a record besides: (label -> roles that do not see it)
UNSEEN = {
    "accounts.apitoken": {"board", "auditor", "approver", "outsider", "pipeline"},  # own only
}


def hidden_from(label: str, role: str) -> bool:
    if label in UNSEEN:
        return role in UNSEEN[label]
    return role == "outsider" and label in TEAM_SCOPED


def snapshot(model, pk):
    return model._default_manager.filter(pk=pk).values().first()


def urls(model, obj):
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    return (
        reverse(f"{name}_changelist"),
        reverse(f"{name}_add"),
        reverse(f"{name}_change", args=[obj.pk]),
    )


def action_names(model_admin):
    names = ["delete_selected"]
    for entry in model_admin.actions or ():
        names.append(entry if isinstance(entry, str) else entry.__name__)
    return names


def walk(client, role, model, model_admin, obj):
    """What ``role`` met on this admin; raises AssertionError naming the page."""
    label = model._meta.label_lower
    where = f"{label} as {role}"
    changelist, add, change = urls(model, obj)
    events = AuditEvent.objects.count()
    before = snapshot(model, obj.pk)
    read_only = role in READ_ONLY
    hidden = hidden_from(label, role)

    listed = client.get(changelist)
    assert listed.status_code in (200, 403), where
    if listed.status_code == 200:
        shown = change in listed.content.decode()
        assert shown is not hidden, f"{where}: listed={shown}"

    added = client.get(add)
    assert added.status_code in (200, 403), where
    if read_only:
        assert added.status_code == 403, f"{where}: add form offered"

    page = client.get(change)
    status = page.status_code
    if hidden:
        assert status == 302 and page.url == reverse("admin:index"), f"{where}: {status}"
    assert status in (200, 302, 403), f"{where}: change page {status}"
    editable = page.status_code == 200 and b'name="_save"' in page.content
    if read_only or label in NEVER_CHANGED:
        assert not editable, f"{where}: change form offered"
    if label in TEAM_WRITES and role in ("engineer", "admin"):
        assert editable, f"{where}: the team may change this"

    data = form_data(page.content.decode(), f"{model._meta.model_name}_form") if editable else {}
    posted = client.post(change, data)
    if editable:
        form = posted.context and posted.context.get("adminform")
        errors = form.form.errors if form else None
        assert posted.status_code == 302, f"{where}: saving the unchanged form: {errors}"
    else:
        assert posted.status_code in (302, 403), f"{where}: POST {posted.status_code}"

    offered = set()
    if listed.status_code == 200 and listed.context and "action_form" in listed.context:
        action_form = listed.context["action_form"]
        if action_form is not None:
            offered = {name for name, _ in action_form.fields["action"].choices if name}
    if read_only:
        assert not offered, f"{where}: actions offered: {offered}"
        for name in action_names(model_admin):
            body = {"action": name, "_selected_action": [obj.pk], "index": 0, "post": "yes"}
            client.post(changelist, body)
        assert snapshot(model, obj.pk) == before, f"{where}: an action changed the record"
    if read_only or not editable:
        assert AuditEvent.objects.count() == events, f"{where}: something was written"
        assert snapshot(model, obj.pk) == before, f"{where}: the record changed"


@pytest.mark.parametrize("role", ROLES)
def test_every_admin_page_and_action(world, client, role):
    client.force_login(world.users[role])
    problems = []
    for model, model_admin in ADMINS:
        obj = world.records[model._meta.label_lower]
        try:
            walk(client, role, model, model_admin, obj)
        except AssertionError as exc:
            problems.append(str(exc))
    assert not problems, "\n".join(problems)


def test_the_world_has_a_record_for_every_admin(world):
    missing = [
        model._meta.label_lower
        for model, _ in ADMINS
        if world.records.get(model._meta.label_lower) is None
    ]
    assert not missing

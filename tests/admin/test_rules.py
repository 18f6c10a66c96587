"""The admin's answers are the API's: stories of who may do what, and the places
where the admin could have gone around a rule."""

from datetime import date

import pytest
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from guardian.shortcuts import get_perms

from accounts.admin_base import GovernedAdminMixin
from audit.models import AuditEvent
from registry.models import MLModel
from risk.models import Risk
from tests.admin.forms import form_data
from tests.conftest import token_client

pytestmark = pytest.mark.django_db


def changelist(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change_url(obj):
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def add_url(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")


def act(client, model, action, *objects):
    body = {"action": action, "_selected_action": [o.pk for o in objects], "index": 0}
    return client.post(changelist(model), body, follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- the issue: a board member could mark risks reviewed ---------------------------


def test_board_cannot_mark_a_risk_reviewed_in_the_admin_nor_in_the_api(world, login):
    risk = world.records["risk.risk"]
    before = Risk.objects.values("next_review_date", "last_reviewed_at").get(pk=risk.pk)
    board = world.users["board"]

    page = login(board).get(changelist(Risk))
    assert page.status_code == 200
    assert "mark_reviewed" not in page.content.decode()
    act(login(board), Risk, "mark_reviewed", risk)  # forged: the action is not offered

    assert Risk.objects.values("next_review_date", "last_reviewed_at").get(pk=risk.pk) == before
    assert not AuditEvent.objects.filter(action="risk.review").exists()
    api = token_client(board).post(f"/api/risks/{risk.pk}/review/", {}, format="json")
    assert api.status_code == 403


def test_the_team_marks_its_risk_reviewed_through_the_service(world, login):
    risk = world.records["risk.risk"]
    answer = act(login(world.users["engineer"]), Risk, "mark_reviewed", risk)

    assert "1 risk(s) marked reviewed." in messages_of(answer)
    risk.refresh_from_db()
    assert risk.last_reviewed_at is not None
    event = AuditEvent.objects.get(action="risk.review")
    assert (event.object_id, event.actor_username) == (str(risk.pk), "engineer-user")


def test_another_team_cannot_reach_the_risk_even_by_a_forged_action(world, login):
    risk = world.records["risk.risk"]
    outsider = login(world.users["outsider"])
    assert change_url(risk) not in outsider.get(changelist(Risk)).content.decode()
    assert outsider.get(change_url(risk)).status_code == 302

    act(outsider, Risk, "mark_reviewed", risk)
    assert not AuditEvent.objects.filter(action="risk.review").exists()


def test_a_closed_risk_is_reported_not_a_server_error(world, login):
    risk = world.records["risk.risk"]
    Risk.objects.filter(pk=risk.pk).update(status="closed")
    answer = act(login(world.users["engineer"]), Risk, "mark_reviewed", risk)
    assert answer.status_code == 200
    assert any("closed risk is not reviewed" in m for m in messages_of(answer))
    assert "0 risk(s) marked reviewed." in messages_of(answer)


# --- writes through the services ---------------------------------------------------


def test_version_status_moves_through_the_service_and_its_rules(world, login):
    from registry.models import ModelVersion

    version = world.records["registry.modelversion"]
    engineer = login(world.users["engineer"])
    act(engineer, ModelVersion, "mark_validated", version)
    version.refresh_from_db()
    assert version.status == "validated"
    assert AuditEvent.objects.filter(action="model_version.status").count() == 1

    refused = act(engineer, ModelVersion, "mark_retired", version)  # it serves in staging
    assert any("live in staging" in m for m in messages_of(refused))
    version.refresh_from_db()
    assert version.status == "validated"

    page = engineer.get(change_url(version))
    assert 'name="status"' not in page.content.decode()  # no way around the life cycle


def risk_form(client, **values):
    data = form_data(client.get(add_url(Risk)).content.decode(), "risk_form")
    data.update(
        {
            "title": ["Refusals rise on long prompts"],
            "category": ["emergent-behaviour"],
            "hypothesis": ["long prompts"],
            "inherent_likelihood": ["4"],
            "inherent_impact": ["4"],
            "residual_likelihood": ["2"],
            "residual_impact": ["2"],
            "appetite": ["medium"],
            "next_review_date": [date.today().isoformat()],
            **values,
        }
    )
    return data


def test_a_risk_added_in_the_admin_belongs_to_the_team(world, login):
    engineer = login(world.users["engineer"])
    owner = str(world.users["engineer"].pk)
    other_team = risk_form(engineer, team=[str(world.fraud.pk)], owner=[owner])
    refused = engineer.post(add_url(Risk), other_team)
    assert refused.status_code == 200 and "team" in refused.context["adminform"].form.errors
    assert not Risk.objects.filter(title="Refusals rise on long prompts").exists()

    body = risk_form(engineer, team=[str(world.credit.pk)], owner=[owner])
    saved = engineer.post(add_url(Risk), body)
    assert saved.status_code == 302
    risk = Risk.objects.get(title="Refusals rise on long prompts")
    assert set(get_perms(world.credit, risk)) >= {"view_risk", "change_risk", "delete_risk"}
    assert AuditEvent.objects.filter(
        action="create", object_type="risk.risk", object_id=str(risk.pk)
    ).exists()
    api = token_client(world.users["approver"]).get(f"/api/risks/{risk.pk}/")
    assert api.status_code == 200  # a teammate sees it, as the service granted


def test_a_risk_is_not_accepted_by_its_form(world, login):
    engineer = login(world.users["engineer"])
    body = risk_form(engineer, team=[str(world.credit.pk)], treatment=["accept"])
    refused = engineer.post(add_url(Risk), body)
    assert "treatment" in refused.context["adminform"].form.errors


def test_a_model_added_in_the_admin_is_registered_with_its_team_rights(world, login):
    engineer = login(world.users["engineer"])
    data = form_data(engineer.get(add_url(MLModel)).content.decode(), "mlmodel_form")
    data.update(
        {
            "name": ["churn"],
            "team": [str(world.credit.pk)],
            "risk_tier": ["limited"],
            "description": ["Which customers may leave"],
        }
    )
    assert engineer.post(add_url(MLModel), data).status_code == 302
    model = MLModel.objects.get(name="churn")
    assert "approve_mlmodel" in get_perms(world.credit, model)


# --- sight ---------------------------------------------------------------------------


def test_the_approver_sees_what_they_may_approve(world, login):
    from registry.models import DeploymentRequest

    approver = login(world.users["approver"])
    index = approver.get(reverse("admin:index")).content.decode()
    assert changelist(MLModel) in index and changelist(DeploymentRequest) in index

    models = approver.get(changelist(MLModel)).content.decode()
    assert change_url(world.fraud_model) in models  # granted the approve right only
    requests = approver.get(changelist(DeploymentRequest)).content.decode()
    assert change_url(world.fraud_request) in requests
    page = approver.get(change_url(world.fraud_model))
    assert page.status_code == 200 and b'name="_save"' not in page.content

    outsider = login(world.users["engineer"]).get(changelist(MLModel)).content.decode()
    assert change_url(world.fraud_model) not in outsider


def test_object_permissions_are_managed_by_admins_only(world, login):
    model = world.records["registry.mlmodel"]
    url = reverse("admin:registry_mlmodel_permissions", args=[model.pk])
    assert login(world.users["engineer"]).get(url).status_code == 403
    assert login(world.users["admin"]).get(url).status_code == 200


def test_the_audit_history_is_shown_to_who_may_read_the_trail(world, login):
    url = change_url(world.records["risk.risk"])
    page = login(world.users["engineer"]).get(url)
    assert page.status_code == 200 and b"Audit history" not in page.content
    assert b"Audit history" in login(world.users["auditor"]).get(url).content


# --- no way around the gate ----------------------------------------------------------


@pytest.mark.parametrize(
    "label", ["registry.deployment", "registry.deploymentrequest", "risk.evaluation"]
)
def test_nobody_writes_deployments_requests_or_evaluations_in_the_admin(world, login, label):
    obj = world.records[label]
    client = login(world.users["admin"])
    before = type(obj)._default_manager.filter(pk=obj.pk).values().get()
    assert client.get(add_url(type(obj))).status_code == 403
    page = client.get(change_url(obj))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert client.post(change_url(obj), {}).status_code == 403
    assert type(obj)._default_manager.filter(pk=obj.pk).values().get() == before


# --- one set of rules ----------------------------------------------------------------


def api_viewsets():
    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern):
                view = getattr(pattern.callback, "cls", None)
                if view is not None and getattr(view, "queryset", None) is not None:
                    yield view

    return {view for view in walk(get_resolver().url_patterns)}


def test_each_admin_scopes_its_records_as_the_api_does():
    checked = 0
    for view in api_viewsets():
        model = view.queryset.model
        model_admin = admin.site._registry.get(model)
        if not isinstance(model_admin, GovernedAdminMixin) or not hasattr(view, "scope_path"):
            continue
        assert model_admin.scope_path == view.scope_path, model._meta.label
        if view.scope_path not in ("", "pk"):
            assert model_admin.scope_model is view.scope_model, model._meta.label
        checked += 1
    assert checked >= 12


def test_every_admin_action_names_the_permission_it_needs():
    for model, model_admin in admin.site._registry.items():
        for entry in model_admin.actions or ():
            func = getattr(model_admin, entry) if isinstance(entry, str) else entry
            assert getattr(func, "allowed_permissions", None), (model._meta.label, entry)


def child_forms(world):
    today = date.today().isoformat()
    engineer = str(world.users["engineer"].pk)
    return {
        "registry.featureversion": {
            "feature": str(world.records["registry.feature"].pk),
            "version": "2",
            "definition_kind": "expression",
            "definition": "income / 6",
        },
        "risk.control": {
            "risk": str(world.records["risk.risk"].pk),
            "title": "second opinion",
            "owner": engineer,
            "status": "planned",
        },
        "playbooks.drill": {
            "playbook": str(world.records["playbooks.playbook"].pk),
            "title": "paging drill",
            "scheduled_for_0": today,
            "scheduled_for_1": "10:00:00",
            "status": "scheduled",
        },
        "playbooks.actionitem": {
            "review": str(world.records["playbooks.postincidentreview"].pk),
            "title": "alert on segment drift",
            "owner": engineer,
            "due_date": today,
        },
    }


@pytest.mark.parametrize(
    "label", ["registry.featureversion", "risk.control", "playbooks.drill", "playbooks.actionitem"]
)
def test_the_team_adds_records_under_its_own_parents_only(world, login, label):
    model = type(world.records[label])
    values = child_forms(world)[label]
    existing = set(model._default_manager.values_list("pk", flat=True))

    outsider = login(world.users["outsider"])
    page = outsider.get(add_url(model))
    if page.status_code == 200:
        data = {**form_data(page.content.decode(), f"{model._meta.model_name}_form"), **values}
        outsider.post(add_url(model), data)
    assert set(model._default_manager.values_list("pk", flat=True)) == existing

    engineer = login(world.users["engineer"])
    page = engineer.get(add_url(model))
    data = {**form_data(page.content.decode(), f"{model._meta.model_name}_form"), **values}
    answer = engineer.post(add_url(model), data)
    assert answer.status_code == 302, answer.context and answer.context["adminform"].form.errors
    (created,) = set(model._default_manager.values_list("pk", flat=True)) - existing
    event = AuditEvent.objects.get(
        action="create", object_type=model._meta.label_lower, object_id=str(created)
    )
    assert event.actor_username == "engineer-user"

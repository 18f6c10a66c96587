"""The shared vocabulary through the real API: terms from draft to deprecated, the
seeded classifications, assignments (mutually exclusive tags refused, every change
audited) and the search, which never names a record the caller may not see."""

import pytest

from audit.models import AuditEvent
from lineage.models import DatasetVersion
from vocabulary.models import Assignment, Classification, GlossaryTerm

pytestmark = pytest.mark.django_db


def propose(client, name="Personal data", **extra):
    body = {
        "name": name,
        "definition": "Any information relating to an identified or identifiable person.",
        "owner_team": "credit-risk",
        "synonyms": ["PII", "personal information"],
        "external_reference": "https://eur-lex.europa.eu/eli/reg/2016/679/oj",
        **extra,
    }
    return client.post("/api/glossary-terms/", body, format="json")


def test_the_seeded_classifications(api, outsider):
    answer = api(outsider).get("/api/classifications/").json()
    names = {c["name"]: c for c in answer["results"]}
    assert set(names) >= {"PII", "RiskTier", "AnnexIII", "Licence"}
    assert names["PII"]["mutually_exclusive"] is True
    assert [t["full_name"] for t in names["PII"]["tags"]] == [
        "PII.NonSensitive",
        "PII.None",
        "PII.Sensitive",
    ]
    assert len(names["AnnexIII"]["tags"]) == 8
    assert names["AnnexIII"]["mutually_exclusive"] is False
    tags = api(outsider).get("/api/tags/?classification=licence").json()["results"]
    assert {t["name"] for t in tags} == {"Open", "Commercial", "Internal", "Restricted"}


def test_only_admins_write_classifications_and_tags(api, owner, board, admin):
    body = {
        "name": "Retention",
        "description": "How long data is kept.",
        "mutually_exclusive": True,
    }
    for user in (owner, board):
        refused = api(user).post("/api/classifications/", body, format="json")
        assert refused.status_code == 403, refused.json()
    created = api(admin).post("/api/classifications/", body, format="json")
    assert created.status_code == 201, created.json()
    tag = api(admin).post(
        "/api/tags/", {"classification": "Retention", "name": "OneYear"}, format="json"
    )
    assert tag.status_code == 201
    assert tag.json()["full_name"] == "Retention.OneYear"
    bad = api(admin).post(
        "/api/tags/", {"classification": "Retention", "name": "a.b"}, format="json"
    )
    assert bad.status_code == 400
    assert "name" in bad.json()["fields"]
    assert AuditEvent.objects.filter(object_type="vocabulary.classification").exists()


def test_a_term_goes_from_draft_to_approved_to_deprecated(api, owner, approver, board, outsider):
    proposed = propose(api(owner))
    assert proposed.status_code == 201, proposed.json()
    term = proposed.json()
    assert term["status"] == "draft"
    assert term["proposed_by"] == owner.username
    assert term["synonyms"] == ["PII", "personal information"]
    url = f"/api/glossary-terms/{term['id']}/"

    assert propose(api(outsider), "Other", owner_team="credit-risk").status_code == 403
    assert propose(api(owner), "personal DATA").status_code == 400  # names are case-blind

    # the proposer may not approve their own term; an outsider approver neither
    assert api(owner).post(url + "approve/").status_code == 403
    assert api(outsider).post(url + "approve/").status_code == 403
    edited = api(owner).patch(url, {"definition": "Information about a person."}, format="json")
    assert edited.status_code == 200
    assert api(outsider).patch(url, {"definition": "x"}, format="json").status_code == 403

    approved = api(approver).post(url + "approve/")
    assert approved.status_code == 200, approved.json()
    assert approved.json()["status"] == "approved"
    assert approved.json()["approved_by"] == approver.username
    again = api(board).post(url + "approve/")
    assert again.status_code == 409
    assert "approved" in again.json()["message"]
    # approved terms are not edited by their team any more
    assert api(owner).patch(url, {"definition": "y"}, format="json").status_code == 409

    deprecated = api(board).post(url + "deprecate/")
    assert deprecated.status_code == 200
    assert deprecated.json()["status"] == "deprecated"
    actions = list(
        AuditEvent.objects.filter(object_type="vocabulary.glossaryterm").values_list(
            "action", flat=True
        )
    )
    assert "vocabulary.term.approved" in actions
    assert "vocabulary.term.deprecated" in actions
    listed = api(outsider).get("/api/glossary-terms/?status=deprecated").json()
    assert [t["name"] for t in listed["results"]] == ["Personal data"]


def test_only_approved_terms_are_assigned_by_non_admins(api, owner, approver, admin, version):
    term = propose(api(owner)).json()
    body = {"target_type": "model-version", "target_id": version.pk, "term": "Personal data"}
    draft = api(owner).post("/api/tag-assignments/", body, format="json")
    assert draft.status_code == 400
    assert "draft" in draft.json()["fields"]["term"][0]
    by_admin = api(admin).post("/api/tag-assignments/", body, format="json")
    assert by_admin.status_code == 201, by_admin.json()
    Assignment.objects.all().delete()
    api(approver).post(f"/api/glossary-terms/{term['id']}/approve/")
    assert api(owner).post("/api/tag-assignments/", body, format="json").status_code == 201
    Assignment.objects.all().delete()
    GlossaryTerm.objects.filter(pk=term["id"]).update(status="deprecated")
    for user in (owner, admin):
        refused = api(user).post("/api/tag-assignments/", body, format="json")
        assert refused.status_code == 400
        assert "deprecated" in refused.json()["message"]


def test_a_record_is_sensitive_or_non_sensitive_never_both(api, owner, version):
    client = api(owner)
    body = {"target_type": "model-version", "target_id": version.pk, "tag": "PII.Sensitive"}
    first = client.post("/api/tag-assignments/", body, format="json")
    assert first.status_code == 201, first.json()
    assert first.json()["classification"] == "PII"
    assert client.post("/api/tag-assignments/", body, format="json").status_code == 409
    other = client.post("/api/tag-assignments/", {**body, "tag": "PII.NonSensitive"}, format="json")
    assert other.status_code == 400
    assert "mutually exclusive" in other.json()["fields"]["tag"][0]
    # not exclusive: two Annex III areas on one record
    for area in ("AnnexIII.EssentialServices", "AnnexIII.Employment"):
        assert (
            client.post("/api/tag-assignments/", {**body, "tag": area}, format="json").status_code
            == 201
        )
    assert Assignment.objects.count() == 3


def test_the_database_refuses_a_second_exclusive_tag(version, pii):
    from django.contrib.contenttypes.models import ContentType
    from django.db import IntegrityError, transaction

    from vocabulary.services import tag_named

    content_type = ContentType.objects.get_for_model(version)
    Assignment.objects.create(content_type=content_type, object_id=version.pk, tag=pii)
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(
            content_type=content_type, object_id=version.pk, tag=tag_named("PII.None")
        )


def test_every_assignment_and_removal_is_audited_on_the_record(api, owner, version):
    client = api(owner)
    body = {"target_type": "model-version", "target_id": version.pk, "tag": "PII.Sensitive"}
    assignment = client.post("/api/tag-assignments/", body, format="json").json()
    removed = client.delete(f"/api/tag-assignments/{assignment['id']}/")
    assert removed.status_code == 204
    events = AuditEvent.objects.filter(
        object_type="registry.modelversion", object_id=str(version.pk)
    ).order_by("seq")
    trail = [(e.action, e.after or e.before) for e in events if e.action.startswith("vocabulary")]
    assert trail == [
        ("vocabulary.assign", {"tag": "PII.Sensitive", "source": "api"}),
        ("vocabulary.remove", {"tag": "PII.Sensitive", "source": "api"}),
    ]


def test_labelling_needs_the_right_on_the_record(api, owner, member, outsider, board, version):
    body = {"target_type": "model-version", "target_id": version.pk, "tag": "PII.Sensitive"}
    # the outsider cannot even name credit's version: the same answer as a missing one
    hidden = api(outsider).post("/api/tag-assignments/", body, format="json")
    missing = api(outsider).post(
        "/api/tag-assignments/", {**body, "target_id": 999999}, format="json"
    )
    assert hidden.status_code == missing.status_code == 400
    assert hidden.json()["fields"] == {
        "target_id": [f"No model-version #{version.pk} you may see."]
    }
    assert "999999" in missing.json()["message"]
    # the board sees the version but does not change it
    assert api(board).post("/api/tag-assignments/", body, format="json").status_code == 403
    created = api(member).post("/api/tag-assignments/", body, format="json")
    assert created.status_code == 201
    assert api(outsider).get("/api/tag-assignments/").json()["results"] == []
    assert api(outsider).get(f"/api/tag-assignments/{created.json()['id']}/").status_code == 404
    assert len(api(board).get("/api/tag-assignments/").json()["results"]) == 1
    assert api(board).delete(f"/api/tag-assignments/{created.json()['id']}/").status_code == 403


def test_dataset_columns_are_labelled_and_unknown_columns_refused(api, owner, training_run):
    dataset_version = DatasetVersion.objects.get(dataset__name="loans/raw/applications")
    dataset = dataset_version.dataset
    dataset.facets = {"schema": {"fields": [{"name": "email"}, {"name": "income"}]}}
    dataset.save(update_fields=["facets"])
    body = {"target_type": "dataset", "target_id": dataset.pk, "tag": "PII.Sensitive"}
    column = api(owner).post("/api/tag-assignments/", {**body, "field": "email"}, format="json")
    assert column.status_code == 201, column.json()
    assert column.json()["field"] == "email"
    nope = api(owner).post("/api/tag-assignments/", {**body, "field": "nope"}, format="json")
    assert nope.status_code == 400
    assert "nope" in nope.json()["fields"]["field"][0]
    no_columns = api(owner).post(
        "/api/tag-assignments/",
        {
            "target_type": "dataset-version",
            "target_id": dataset_version.pk,
            "tag": "PII.Sensitive",
            "field": "x",
        },
        format="json",
    )
    assert no_columns.status_code == 400


def test_search_by_tag_and_term_is_scoped(
    api, owner, approver, outsider, board, version, fraud_model, admin
):
    term = propose(api(owner)).json()
    api(approver).post(f"/api/glossary-terms/{term['id']}/approve/")
    assign = api(admin).post
    for target_type, target_id in (("model-version", version.pk), ("model", fraud_model.pk)):
        body = {"target_type": target_type, "target_id": target_id}
        assert (
            assign(
                "/api/tag-assignments/", {**body, "tag": "PII.Sensitive"}, format="json"
            ).status_code
            == 201
        )
        assert (
            assign(
                "/api/tag-assignments/", {**body, "term": "Personal data"}, format="json"
            ).status_code
            == 201
        )

    def hits(user, query):
        response = api(user).get(f"/api/search?{query}")
        assert response.status_code == 200, response.json()
        return [(h["target_type"], h["title"]) for h in response.json()["results"]]

    everything = [("model", "card-fraud"), ("model-version", "loan-default v7")]
    assert hits(board, "tag=PII.Sensitive") == everything
    assert hits(board, "term=pii") == everything  # a synonym finds the term
    assert hits(owner, "tag=pii.sensitive") == [("model-version", "loan-default v7")]
    assert hits(outsider, "tag=PII.Sensitive&term=Personal%20data") == [("model", "card-fraud")]
    assert hits(board, "tag=PII.Sensitive&target_type=model") == [("model", "card-fraud")]
    hit = api(board).get("/api/search?tag=PII.Sensitive").json()["results"][1]
    assert hit["labels"] == ["PII.Sensitive", "Personal data"]
    assert hit["fields"] == [""]
    assert api(board).get("/api/search").status_code == 400
    unknown = api(board).get("/api/search?tag=PII.Nope")
    assert unknown.status_code == 400
    assert unknown.json()["fields"] == {"tag": ["No tag named 'PII.Nope' (Classification.Tag)."]}
    assert api(board).get("/api/search?tag=PII.Sensitive&target_type=cat").status_code == 400


def test_lists_cost_a_bounded_number_of_queries(
    api, owner, admin, version, django_assert_max_num_queries
):
    for area in ("Biometrics", "Education", "Employment", "Justice", "Migration"):
        api(admin).post(
            "/api/tag-assignments/",
            {"target_type": "model-version", "target_id": version.pk, "tag": f"AnnexIII.{area}"},
            format="json",
        )
    for n in range(5):
        api(admin).post(
            "/api/glossary-terms/",
            {"name": f"term {n}", "definition": "d", "owner_team": "credit-risk"},
            format="json",
        )
    client = api(owner)
    for url in (
        "/api/tag-assignments/",
        "/api/glossary-terms/",
        "/api/classifications/",
        "/api/tags/",
        "/api/search?tag=AnnexIII.Biometrics",
    ):
        with django_assert_max_num_queries(25):
            assert client.get(url).status_code == 200


def test_a_classification_made_exclusive_with_doubled_records_is_refused(api, admin, version):
    client = api(admin)
    for area in ("Biometrics", "Education"):
        client.post(
            "/api/tag-assignments/",
            {"target_type": "model-version", "target_id": version.pk, "tag": f"AnnexIII.{area}"},
            format="json",
        )
    annex = Classification.objects.get(name="AnnexIII")
    refused = client.patch(
        f"/api/classifications/{annex.pk}/", {"mutually_exclusive": True}, format="json"
    )
    assert refused.status_code == 400
    assert "mutually_exclusive" in refused.json()["fields"]


def test_a_risk_is_labelled_by_its_team_and_found_only_by_those_who_see_it(
    api, owner, outsider, board, team
):
    from tests.risk.factories import make_risk

    risk = make_risk(team, owner, title="Bureau data reused beyond consent")
    body = {"target_type": "risk", "target_id": risk.pk, "tag": "AnnexIII.EssentialServices"}
    assert api(outsider).post("/api/tag-assignments/", body, format="json").status_code == 400
    assert api(owner).post("/api/tag-assignments/", body, format="json").status_code == 201
    query = "/api/search?tag=AnnexIII.EssentialServices&target_type=risk"
    assert [h["title"] for h in api(board).get(query).json()["results"]] == [str(risk)]
    assert api(outsider).get(query).json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }

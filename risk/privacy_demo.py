"""The demo's shared-vocabulary chapter (issue 15): the credit bureau's third extract
holds personal data. The data protection officer's term "Personal data" is approved by
the board; the extract is tagged PII.Sensitive, with its consent notes; loan-default is
an Annex III credit-scoring system; CI posts the privacy reviews of the two versions
trained on the extract, so credit-limit@2 still passes the gate to production (day 10)
and loan-default@3 is "trained on personal data" on its page and in its dossier."""

from django.contrib.auth.models import Group

from accounts.demo import as_user, chapter, later
from lineage.models import DatasetVersion
from lineage.services import change_dataset_version
from registry.demo import dataset_version
from registry.models import MLModel, ModelVersion
from risk.demo import post
from vocabulary import services as vocabulary
from vocabulary.choices import PII_SENSITIVE
from vocabulary.models import GlossaryTerm

BUREAU = "credit/raw/bureau_scores"
EXTRACT = "bureau-extract-3"
CONSENT = (
    "Bureau data-sharing agreement BDA-2026-03: applicants consent on the application "
    "form (v3, clause 7); withdrawal honoured within 30 days (ticket DPO-121)."
)
PRIVACY_REVIEW = (
    "privacy/dpia::bureau-extract-3",
    "The bureau extract is used only for the purpose applicants consented to.",
    "DPIA signed by the DPO; no special-category field reaches the features.",
    "open_findings",
)


@chapter(days_ago=29.5)
def bureau_extract_3_is_personal_data(context):
    """the board approves the glossary term "Personal data"; engineer tags the bureau's
    third extract PII.Sensitive and records its consent notes; loan-default is labelled
    an Annex III credit-scoring system (essential services)"""
    users = context["users"]
    term = GlossaryTerm.objects.filter(name__iexact="Personal data").first()
    if term is None:
        with as_user(context, "engineer"):
            term = vocabulary.propose_term(
                users["engineer"],
                name="Personal data",
                definition="Any information relating to an identified or identifiable "
                "natural person (GDPR Art. 4(1)).",
                synonyms=["PII", "personal information"],
                external_reference="https://eur-lex.europa.eu/eli/reg/2016/679/oj",
                owner_team=Group.objects.get(name="credit-risk"),
            )
        later(context, minutes=20)
    if term.status == "draft":
        with as_user(context, "board"):
            vocabulary.approve_term(term, users["board"])
    extract: DatasetVersion = dataset_version(BUREAU, EXTRACT)
    engineer = users["engineer"]
    with as_user(context, "engineer"):
        vocabulary.assign(
            engineer, extract, tag=vocabulary.tag_named(PII_SENSITIVE), exists_ok=True
        )
        vocabulary.assign(engineer, extract.dataset, term=term, exists_ok=True)
        if not extract.consent_notes:
            change_dataset_version(extract, actor=engineer, consent_notes=CONSENT)
        loan = MLModel.objects.get(name="loan-default")
        for name in ("AnnexIII.EssentialServices", "RiskTier.High"):
            vocabulary.assign(engineer, loan, tag=vocabulary.tag_named(name), exists_ok=True)


@chapter(days_ago=29.4)
def bureau_extract_3_privacy_reviews(context):
    """CI posts the privacy reviews (DPIA) of loan-default@3 and credit-limit@2, both
    trained on the bureau's third extract"""
    for model_name, label in (("loan-default", "3"), ("credit-limit", "2")):
        target = ModelVersion.objects.get(model__name=model_name, version=label)
        post(context, target, "privacy-review", PRIVACY_REVIEW, 0)

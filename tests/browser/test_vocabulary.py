"""The vocabulary's console page on the demo story, in Chromium: the engineer finds the
approved term "Personal data", the PII classification with the bureau extract carrying
PII.Sensitive (linked to its page), and loan-default's model page says which of its
versions are trained on personal data. axe-core finds no serious or critical violation."""

from playwright.sync_api import expect

from lineage.models import DatasetVersion
from tests.browser.conftest import check_axe, shot, sign_in
from vocabulary.choices import PII_SENSITIVE


def extract_pk() -> int:
    """The dataset version the demo tags PII.Sensitive (the bureau's third extract)."""
    from vocabulary.services import labelled, tag_named

    return DatasetVersion.objects.get(
        pk__in=labelled(DatasetVersion, tag=tag_named(PII_SENSITIVE))
    ).pk


def test_the_engineer_reads_the_vocabulary_and_follows_a_label(demo_server, page):
    sign_in(page, demo_server, "engineer")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Vocabulary").click()
    expect(page.get_by_role("heading", name="Shared vocabulary", level=1)).to_be_visible()
    term = page.locator("#terms tbody tr").filter(has_text="Personal data")
    expect(term).to_contain_text("Approved")
    expect(term).to_contain_text("PII, personal information")
    expect(term).to_contain_text("dataset: s3://govreg-demo-lake:credit/raw/bureau_scores")
    pii = page.get_by_role("region", name="Tags of PII")
    sensitive = pii.locator("tr").filter(has_text="PII.Sensitive")
    link = sensitive.get_by_role("link")
    expect(link).to_have_count(1)
    check_axe(page)
    shot(page, "vocabulary", full_page=True)
    link.click()
    expect(page).to_have_url(f"{demo_server}/lineage/versions/{extract_pk()}/")

    page.goto(f"{demo_server}/models/loan-default/")
    section = page.locator("section[aria-labelledby=section-personal-data]")
    expect(section).to_contain_text("Personal data and labels")
    expect(section.locator("tr").filter(has_text="v3")).to_contain_text("yes")
    expect(section.locator("tr").filter(has_text="v1")).to_contain_text("no")
    expect(section).to_contain_text("AnnexIII.EssentialServices")
    check_axe(page)
    shot(page, "model-personal-data", full_page=True)

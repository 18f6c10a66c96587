from django.db import models


class TermStatus(models.TextChoices):
    """A glossary term's life: proposed, approved for use, then retired."""

    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    DEPRECATED = "deprecated", "Deprecated"


# The seeded personal-data classification and its tag names.
PERSONAL_DATA = "PII"
PII_SENSITIVE = "PII.Sensitive"

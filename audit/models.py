import base64

from django.db import models

from govreg_verify.checkpoint import SIGNATURE_PREFIX, Checkpoint


class AuditEvent(models.Model):
    """One link of the append-only, hash-chained audit trail.

    Never updated or deleted: on PostgreSQL a trigger refuses both. The actor
    is kept as an id plus a frozen name so the trail outlives user records.
    """

    seq = models.BigIntegerField(unique=True, editable=False)
    created_at = models.DateTimeField(editable=False, db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, editable=False, db_index=True)
    actor_username = models.CharField(max_length=150, blank=True, editable=False)
    actor_token = models.CharField(max_length=200, blank=True, editable=False)
    action = models.CharField(max_length=64, editable=False, db_index=True)
    object_type = models.CharField(max_length=100, editable=False)
    object_id = models.CharField(max_length=200, blank=True, editable=False)
    before = models.JSONField(null=True, blank=True, editable=False)
    after = models.JSONField(null=True, blank=True, editable=False)
    request_id = models.CharField(max_length=64, blank=True, editable=False)
    source_address = models.CharField(max_length=45, null=True, blank=True, editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]

    def __str__(self):
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"

    def as_record(self) -> dict:
        from audit.chain import HASHED_FIELDS

        record = {name: getattr(self, name) for name in HASHED_FIELDS}
        record["hash"] = self.hash
        return record


class AuditChainHead(models.Model):
    """The single row that serializes appends and remembers the chain's tip.

    Locking this row orders every append, on SQLite and PostgreSQL alike, and
    lets ``verify_audit`` notice events cut off the end of the chain.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64)

    def __str__(self):
        return f"head at #{self.last_seq}"


class AuditCheckpoint(models.Model):
    """A signed statement "the trail had ``tree_size`` events with this Merkle root".

    The hash chain alone cannot tell a rewritten chain from the real one: no
    secret goes into it. A checkpoint is signed with the deployment's Ed25519
    key, so removing events it covers, or re-hashing the chain from an altered
    event onward, no longer matches a signature nobody without the key can
    make. Append-only like the events (a PostgreSQL trigger refuses UPDATE,
    DELETE and TRUNCATE).
    """

    tree_size = models.BigIntegerField(unique=True, editable=False)
    root_hash = models.CharField(max_length=64, editable=False)
    signed_text = models.TextField(editable=False)
    signature = models.CharField(max_length=100, editable=False)
    key_id = models.CharField(max_length=8, editable=False, db_index=True)
    created_at = models.DateTimeField(editable=False, db_index=True)

    class Meta:
        ordering = ["tree_size"]
        get_latest_by = "tree_size"

    def __str__(self):
        return f"checkpoint at {self.tree_size} events ({self.key_id})"

    def note(self) -> str:
        """The signed note: the body, a blank line and the signature line."""
        origin = Checkpoint.parse(self.signed_text).origin
        blob = base64.b64encode(bytes.fromhex(self.key_id) + base64.b64decode(self.signature))
        return f"{self.signed_text}\n{SIGNATURE_PREFIX}{origin} {blob.decode()}\n"


class AuditTreeNode(models.Model):
    """A stored interior node of the Merkle tree over the events, so proofs need no rehash.

    Only every eighth level is kept (heights 8, 16, 24...): the root of each
    complete, aligned run of 256 leaves, of 256 such runs, and so on. Any
    subtree a proof names is then at most 255 stored nodes or event hashes
    away, about 1/255 as many rows as events. Derived data, written by the
    checkpoint signer (``audit.proofs.index_tree``); a node that is wrong only
    makes proofs fail against the signed root, never pass.
    """

    level = models.PositiveSmallIntegerField(editable=False)
    index = models.BigIntegerField(editable=False)
    hash = models.CharField(max_length=64, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["level", "index"], name="audit_tree_node_position")
        ]

    def __str__(self):
        return f"node {self.level}/{self.index}"


class AuditSigningKey(models.Model):
    """A public key that signed checkpoints and bundles, kept after it is retired.

    ``manage.py rotate_signing_key`` retires the current key (``retired_at``)
    and starts a new one; retired keys stay listed (``GET /api/audit/keys``,
    ``audit_public_key``, every bundle's ``public-keys.pem``) so checkpoints
    and exports they signed still verify.
    """

    key_id = models.CharField(max_length=8, unique=True, editable=False)
    origin = models.CharField(max_length=200, editable=False)
    public_key = models.TextField(editable=False, help_text="PEM (SubjectPublicKeyInfo)")
    created_at = models.DateTimeField(editable=False)
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"key {self.key_id}" + (" (retired)" if self.retired_at else "")


class AuditExport(models.Model):
    """An export of the audit events of a period as a signed bundle, built by a task."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, editable=False
    )
    after = models.DateTimeField(help_text="events created at or after this time")
    before = models.DateTimeField(help_text="events created before this time")
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=200, blank=True)
    requested_by_id = models.BigIntegerField(null=True, blank=True, editable=False)
    requested_by = models.CharField(max_length=150, blank=True, editable=False)
    created_at = models.DateTimeField(editable=False)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    total = models.BigIntegerField(default=0, editable=False, help_text="events to export")
    events = models.BigIntegerField(default=0, editable=False, help_text="events exported")
    percent = models.PositiveSmallIntegerField(default=0, editable=False)
    tree_size = models.BigIntegerField(null=True, blank=True, editable=False)
    file = models.CharField(max_length=200, blank=True, editable=False)
    size = models.BigIntegerField(null=True, blank=True, editable=False)
    sha256 = models.CharField(max_length=64, blank=True, editable=False)
    error = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"audit export #{self.pk} ({self.status})"

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.after and self.before and self.after >= self.before:
            raise ValidationError({"before": "must be later than after"})
        if self.object_id and not self.object_type:
            raise ValidationError({"object_type": "object_id needs an object_type"})

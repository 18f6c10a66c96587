from django.db import models


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

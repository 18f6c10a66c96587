"""Create, update and delete of registered models become audit events.

Apps call ``track(Model)`` in ``AppConfig.ready``. Snapshots hold the
model's concrete fields (foreign keys as ids); many-to-many changes are
recorded as their own events. ``create_tracked`` inserts a new row with its
event in one statement where the database can append the event itself.
"""

import hashlib
import json
from contextlib import nullcontext

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.db.models.sql import InsertQuery

from audit.services import append_call, record, to_json

_tracked: dict[type, frozenset[str]] = {}


def snapshot(instance, exclude: frozenset[str] = frozenset()) -> dict:
    return to_json(
        {
            field.attname: field.to_python(field.value_from_object(instance))
            for field in instance._meta.concrete_fields
            if field.attname not in exclude and field.name not in exclude
        }
    )


def rows_digest(instances, exclude: frozenset[str] = frozenset()) -> str:
    """SHA-256 of the rows' snapshots in id order (``exclude``: fields left out, such as
    those a later step fills in): one audit event for a bulk insert (a report, a
    delivery of signals) pins every row it wrote without repeating them."""
    rows = sorted(
        (snapshot(instance, exclude) for instance in instances), key=lambda row: row["id"]
    )
    blob = json.dumps(rows, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def track(model, *, exclude=(), m2m=()) -> None:
    """Audit every create, update and delete of ``model`` (``exclude``: fields left out)."""
    if model in _tracked:
        return
    _tracked[model] = frozenset(exclude)
    uid = f"audit-{model._meta.label_lower}"
    pre_save.connect(_before_save, sender=model, dispatch_uid=uid + "-pre")
    post_save.connect(_after_save, sender=model, dispatch_uid=uid + "-post")
    post_delete.connect(_after_delete, sender=model, dispatch_uid=uid + "-delete")
    for field_name in m2m:
        through = model._meta.get_field(field_name).remote_field.through
        m2m_changed.connect(_m2m_changed, sender=through, dispatch_uid=f"{uid}-{field_name}")


def _before_save(sender, instance, raw=False, **kwargs):
    if raw or instance._state.adding or instance.pk is None:
        instance._audit_before = None
        return
    exclude = _tracked[sender]
    names = [
        f.attname
        for f in sender._meta.concrete_fields
        if f.attname not in exclude and f.name not in exclude
    ]
    row = sender._base_manager.filter(pk=instance.pk).values(*names).first()
    instance._audit_before = to_json(row)


def _after_save(sender, instance, created, raw=False, update_fields=None, **kwargs):
    if raw or instance.__dict__.pop("_audit_recorded", False):  # by create_tracked
        return
    after = snapshot(instance, _tracked[sender])
    before = getattr(instance, "_audit_before", None)
    if not created and before == after:
        return
    record(
        "create" if created or before is None else "update",
        obj=instance,
        before=before,
        after=after,
    )


def create_tracked(instance) -> None:
    """Insert ``instance``, a new row of a tracked model, with its ``create`` event, as
    ``save()`` and this module's receivers would (``pre_save`` and ``post_save`` are
    sent as ``save()`` sends them), but in ONE statement on PostgreSQL: the row and
    its event are written together or not at all, so outside a transaction the insert
    needs none (a BEGIN and a COMMIT fewer). Inside the caller's transaction it runs
    in a savepoint, so a caller that catches its error keeps its transaction.
    Elsewhere (SQLite, a model with parents or with columns the database fills in,
    text the database would hash differently): ``save()`` in a transaction."""
    model = type(instance)
    meta = model._meta
    if model not in _tracked:
        raise ValueError(f"{meta.label} is not tracked: save() it")
    if (
        connection.vendor != "postgresql"
        or instance.pk is not None
        or meta.parents
        or meta.db_returning_fields != [meta.pk]
    ):
        with transaction.atomic():
            instance.save(force_insert=True)
        return
    pre_save.send(
        sender=model, instance=instance, raw=False, using=connection.alias, update_fields=None
    )
    query = InsertQuery(model)
    query.insert_values([f for f in meta.local_concrete_fields if f is not meta.pk], [instance])
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = [meta.pk]
    [(insert, params)] = compiler.as_sql()  # fills in auto_now and other pre_save values
    pk = connection.ops.quote_name(meta.pk.column)
    call = append_call(
        "create",
        object_type=meta.label_lower,
        id_sql=f"inserted.{pk}",
        after=snapshot(instance, _tracked[model]),
        id_key=meta.pk.attname,
    )
    in_transaction = call is None or connection.in_atomic_block
    with transaction.atomic() if in_transaction else nullcontext():
        with connection.cursor() as cursor:
            if call is None:  # the insert alone: the event is post_save's, in this transaction
                cursor.execute(insert, params)
            else:
                cursor.execute(
                    f"WITH inserted AS ({insert}) SELECT inserted.{pk} FROM inserted "  # noqa: S608
                    f"CROSS JOIN LATERAL {call[0]} AS audit",
                    [*params, *call[1]],
                )
                instance._audit_recorded = True  # the event is written: _after_save leaves it
            instance.pk = cursor.fetchone()[0]
        instance._state.adding, instance._state.db = False, connection.alias
        post_save.send(
            sender=model,
            instance=instance,
            created=True,
            raw=False,
            using=connection.alias,
            update_fields=None,
        )


def _after_delete(sender, instance, **kwargs):
    record("delete", obj=instance, before=snapshot(instance, _tracked[sender]))


def _through(field):
    """The table of a many-to-many field, or of the reverse side of one (a ``ManyToManyRel``
    holds it itself; a field holds it on its ``remote_field``)."""
    return field.through if field.auto_created else field.remote_field.through


def _m2m_changed(sender, instance, action, model, pk_set, reverse, **kwargs):
    if action == "pre_clear":
        # clear() gives no ids afterwards: remember which rows it is about to unlink
        relation = sender._meta.model_name
        instance._audit_cleared = getattr(instance, "_audit_cleared", {})
        accessor = next(
            f.get_accessor_name() if f.auto_created else f.name
            for f in instance._meta.get_fields()
            if f.many_to_many and _through(f) is sender
        )
        instance._audit_cleared[relation] = set(
            getattr(instance, accessor).values_list("pk", flat=True)
        )
        return
    if action not in {"post_add", "post_remove", "post_clear"}:
        return
    verb = action.removeprefix("post_")
    relation = sender._meta.model_name
    if action == "post_clear":
        pk_set = getattr(instance, "_audit_cleared", {}).pop(relation, set())
    ids = sorted(pk_set or [])
    detail = {"relation": relation, "model": model._meta.label_lower, "ids": ids}
    if any(f.name == "name" for f in model._meta.concrete_fields):
        names = model._base_manager.filter(pk__in=ids).values_list("name", flat=True)
        detail["names"] = sorted(names)
    record(f"m2m.{verb}", obj=instance, after=detail)


def connect_identity_models() -> None:
    """Users, groups (teams and roles), memberships and permission grants."""
    from django.contrib.auth.models import Group
    from guardian.models import GroupObjectPermission, UserObjectPermission

    user_model = get_user_model()
    track(user_model, exclude=("password", "last_login"), m2m=("groups", "user_permissions"))
    track(Group, m2m=("permissions",))
    track(UserObjectPermission)
    track(GroupObjectPermission)

"""On PostgreSQL, one server-side function appends the events of one act together,
and both append functions seed a missing chain head.

``audit_append()`` appends one event; called once per event of a batch (a lateral
call per row) it locked, read and moved the chain head once per event. This one
takes the events as arrays: it locks the head once, chains and hashes them in
order (the same canonical pieces as ``audit_append()``), inserts them with one
statement and moves the head once.

Both functions seed the chain head when there is none (from the last event, as
the ORM path does) instead of appending nothing: a statement that inserts a row
and appends its audit event together can then rely on the event being appended.
"""

from django.db import migrations

SEED = """
CREATE OR REPLACE FUNCTION audit_seed_head() RETURNS void AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM audit_auditchainhead WHERE id = 1) THEN
        INSERT INTO audit_auditchainhead (id, last_seq, last_hash)
        SELECT 1, coalesce(max(seq), 0),
            coalesce((SELECT hash FROM audit_auditevent ORDER BY seq DESC LIMIT 1),
                     repeat('0', 64))
        FROM audit_auditevent
        ON CONFLICT (id) DO NOTHING;
    END IF;
END;
$$ LANGUAGE plpgsql;
"""

CREATE = """
CREATE OR REPLACE FUNCTION audit_append_many(
    p_created_at timestamptz[], p_actor_id bigint[], p_actor_username varchar[],
    p_actor_token varchar[], p_action varchar[], p_object_type varchar[],
    p_object_id varchar[], p_before jsonb[], p_after jsonb[], p_request_id varchar[],
    p_source_address varchar[], p_head text[], p_middle text[], p_tail text[]
) RETURNS TABLE (event_id bigint, event_seq bigint, event_prev varchar, event_hash varchar)
AS $$
DECLARE
    v_seq bigint;
    v_prev varchar;
    v_first bigint;
    v_prevs varchar[] := '{}';
    v_hashes varchar[] := '{}';
    v_count integer := coalesce(array_length(p_action, 1), 0);
BEGIN
    IF v_count = 0 THEN
        RETURN;
    END IF;
    PERFORM audit_seed_head();
    SELECT last_seq, last_hash INTO v_seq, v_prev
        FROM audit_auditchainhead WHERE id = 1 FOR UPDATE;
    v_first := v_seq + 1;
    FOR i IN 1..v_count LOOP
        v_seq := v_seq + 1;
        v_prevs[i] := v_prev;
        v_prev := encode(sha256(convert_to(
            p_head[i] || v_prev || p_middle[i] || v_seq::text || p_tail[i], 'UTF8')), 'hex');
        v_hashes[i] := v_prev;
    END LOOP;
    UPDATE audit_auditchainhead SET last_seq = v_seq, last_hash = v_prev WHERE id = 1;
    RETURN QUERY
    WITH appended AS (
        INSERT INTO audit_auditevent (
            seq, created_at, actor_id, actor_username, actor_token, action, object_type,
            object_id, before, after, request_id, source_address, prev_hash, hash)
        SELECT v_first + e.n - 1, e.created_at, e.actor_id, e.actor_username,
            e.actor_token, e.action, e.object_type, e.object_id, e.before, e.after,
            e.request_id, e.source_address, e.prev_hash, e.hash
        FROM unnest(p_created_at, p_actor_id, p_actor_username, p_actor_token, p_action,
            p_object_type, p_object_id, p_before, p_after, p_request_id,
            p_source_address, v_prevs, v_hashes) WITH ORDINALITY AS e(
            created_at, actor_id, actor_username, actor_token, action, object_type,
            object_id, before, after, request_id, source_address, prev_hash, hash, n)
        ORDER BY e.n
        RETURNING id, seq, prev_hash, hash
    )
    SELECT a.id, a.seq, a.prev_hash, a.hash FROM appended a ORDER BY a.seq;
END;
$$ LANGUAGE plpgsql;
"""

def _append_one(seeding: bool) -> str:
    """``audit_append()`` as migration 0003 made it, or seeding a missing head first."""
    from importlib import import_module

    original = import_module("audit.migrations.0003_append_function").CREATE
    if not seeding:
        return original
    seeded = original.replace(
        "BEGIN\n    SELECT last_seq", "BEGIN\n    PERFORM audit_seed_head();\n    SELECT last_seq", 1
    )
    assert seeded != original, "audit_append() is not shaped as migration 0003 made it"
    return seeded


DROP = (
    "DROP FUNCTION IF EXISTS audit_append_many(timestamptz[], bigint[], varchar[], varchar[],"
    " varchar[], varchar[], varchar[], jsonb[], jsonb[], varchar[], varchar[], text[], text[],"
    " text[]);"
)


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in (SEED, CREATE, _append_one(seeding=True)):
            schema_editor.execute(sql, params=None)


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in (_append_one(seeding=False), DROP, "DROP FUNCTION IF EXISTS audit_seed_head();"):
            schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_proofs_keys_exports")]

    operations = [migrations.RunPython(create_function, drop_function)]

"""On PostgreSQL, one server-side function appends an event in one round trip.

The caller sends the event's canonical JSON in three pieces around the two
values only the locked chain head knows (the previous hash and the sequence
number); the function locks the head, fills them in, hashes, inserts and
moves the head. The lock is then held only until the caller commits.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION audit_append(
    p_created_at timestamptz, p_actor_id bigint, p_actor_username varchar,
    p_actor_token varchar, p_action varchar, p_object_type varchar, p_object_id varchar,
    p_before jsonb, p_after jsonb, p_request_id varchar, p_source_address varchar,
    p_head text, p_middle text, p_tail text
) RETURNS TABLE (event_id bigint, event_seq bigint, event_prev varchar, event_hash varchar)
AS $$
DECLARE
    v_seq bigint;
    v_prev varchar;
    v_hash varchar;
    v_id bigint;
BEGIN
    SELECT last_seq, last_hash INTO v_seq, v_prev
        FROM audit_auditchainhead WHERE id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;  -- no head yet: the caller seeds it and appends the slow way
    END IF;
    v_seq := v_seq + 1;
    v_hash := encode(sha256(convert_to(
        p_head || v_prev || p_middle || v_seq::text || p_tail, 'UTF8')), 'hex');
    INSERT INTO audit_auditevent (
        seq, created_at, actor_id, actor_username, actor_token, action, object_type,
        object_id, before, after, request_id, source_address, prev_hash, hash)
    VALUES (
        v_seq, p_created_at, p_actor_id, p_actor_username, p_actor_token, p_action,
        p_object_type, p_object_id, p_before, p_after, p_request_id, p_source_address,
        v_prev, v_hash)
    RETURNING id INTO v_id;
    UPDATE audit_auditchainhead SET last_seq = v_seq, last_hash = v_hash WHERE id = 1;
    RETURN QUERY SELECT v_id, v_seq, v_prev, v_hash;
END;
$$ LANGUAGE plpgsql;
"""

DROP = "DROP FUNCTION IF EXISTS audit_append(timestamptz, bigint, varchar, varchar, varchar, varchar, varchar, jsonb, jsonb, varchar, varchar, text, text, text);"  # noqa: E501


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_trigger")]

    operations = [migrations.RunPython(create_function, drop_function)]

"""Signals other apps listen to, so they can react without lineage importing them.

``dataset_version_status_changed`` is sent INSIDE the transaction that changes
the status (after the row is saved and audited, before commit): a receiver's
writes commit or roll back together with the change, and a receiver that
raises undoes it. Receivers that talk to the outside world should defer that
part themselves with ``transaction.on_commit``.

Arguments: ``sender`` (the DatasetVersion class), ``dataset_version``,
``old_status``, ``new_status``, ``actor`` (the user, or None for the system).

``run_lineage_changed`` is sent, in the same way, inside the transaction of
ingested run events that named inputs or outputs, after they are stored, once
per ingested batch: ``sender`` (the Run class), ``run`` (the first such run),
``runs`` (all of them, in order), ``dataset_version_ids`` (their outputs). The
gate re-judges the open requests of the model versions built on those runs.
"""

from django.dispatch import Signal

dataset_version_status_changed = Signal()
run_lineage_changed = Signal()

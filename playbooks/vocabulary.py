"""Incidents and signals in the shared vocabulary: scoped through their model, labelled
by whoever may change that model (its team, admins)."""

from vocabulary.targets import register_target

register_target(
    "incident", "playbooks.Incident", scope_path="model", scope_model="registry.MLModel"
)
register_target("signal", "playbooks.Signal", scope_path="model", scope_model="registry.MLModel")

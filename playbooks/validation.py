"""Shape and reference checks for a playbook's JSON parts (steps, decision tree,
escalation chain, label matchers). Used by ``Playbook.clean()``, so the API,
the admin and the services agree."""

from django.core.exceptions import ValidationError
from jsonschema import Draft202012Validator

from playbooks.choices import StepKind

STEPS_SCHEMA = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["kind", "text"],
        "additionalProperties": False,
        "properties": {
            "kind": {"enum": list(StepKind.values)},
            "text": {"type": "string", "minLength": 1},
        },
    },
}

DECISION_TREE_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["id", "question", "answers"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "minLength": 1},
            "question": {"type": "string", "minLength": 1},
            "answers": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["answer"],
                    "additionalProperties": False,
                    "properties": {
                        "answer": {"type": "string", "minLength": 1},
                        "next": {"type": "string", "minLength": 1},
                        "step": {"type": "integer", "minimum": 1},
                    },
                    "oneOf": [{"required": ["next"]}, {"required": ["step"]}],
                },
            },
        },
    },
}

ESCALATION_SCHEMA = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["group", "minutes"],
        "additionalProperties": False,
        "properties": {
            "group": {"type": "string", "minLength": 1},
            "minutes": {"type": "integer", "minimum": 1},
        },
    },
}

LABEL_MATCHERS_SCHEMA = {"type": "object", "additionalProperties": {"type": "string"}}


def _schema_errors(schema: dict, value) -> list[str]:
    errors = sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.path))
    messages = []
    for error in errors:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
        messages.append(f"{where.lstrip('.') or 'value'}: {error.message}")
    return messages


def validate_steps(steps) -> list[str]:
    return _schema_errors(STEPS_SCHEMA, steps)


def validate_label_matchers(matchers) -> list[str]:
    return _schema_errors(LABEL_MATCHERS_SCHEMA, matchers)


def validate_escalation_chain(chain, group_names: set[str]) -> list[str]:
    errors = _schema_errors(ESCALATION_SCHEMA, chain)
    if errors:
        return errors
    return [
        f"[{index}].group: no group named {level['group']!r}"
        for index, level in enumerate(chain)
        if level["group"] not in group_names
    ]


def validate_decision_tree(tree, step_count: int) -> list[str]:
    """Question -> answer -> next question or a step (1-based); the first node is the root.

    Every ``next`` must name a node, every ``step`` an existing step, and no
    path may loop back on itself."""
    errors = _schema_errors(DECISION_TREE_SCHEMA, tree)
    if errors:
        return errors
    ids = [node["id"] for node in tree]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        return [f"duplicate node id(s): {', '.join(duplicates)}"]
    known = set(ids)
    for index, node in enumerate(tree):
        for a_index, answer in enumerate(node["answers"]):
            where = f"[{index}].answers[{a_index}]"
            if "next" in answer and answer["next"] not in known:
                errors.append(f"{where}.next: no node with id {answer['next']!r}")
            if "step" in answer and answer["step"] > step_count:
                errors.append(f"{where}.step: the playbook has only {step_count} step(s)")
    if errors:
        return errors
    edges = {n["id"]: [a["next"] for a in n["answers"] if "next" in a] for n in tree}
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(node_id: str) -> bool:
        state[node_id] = 1
        for target in edges[node_id]:
            if state.get(target) == 1 or (target not in state and visit(target)):
                return True
        state[node_id] = 2
        return False

    for node_id in ids:
        if node_id not in state and visit(node_id):
            return [f"the decision tree loops back through node {node_id!r}"]
    return []


def raise_if(errors_by_field: dict[str, list[str]]) -> None:
    errors = {field: msgs for field, msgs in errors_by_field.items() if msgs}
    if errors:
        raise ValidationError(errors)

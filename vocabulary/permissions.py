"""Who may approve a glossary term, asked through ``accounts.permissions.may``.

A term belongs to no model, so the registry's decision rights (scoped by model, risk
tier and environment, counted approvals per deployment) do not fit it, and the
vocabulary sits below the registry and may not import it. The approve right is a
permission over the term instead (``vocabulary.approve_glossaryterm``, held by admins
through their role), plus this rule: the governance board, and approvers of the
term's owning team, approve and deprecate; never the person who proposed it
(separation of duties), unless an admin.
"""

from accounts.permissions import rule
from accounts.roles import Role, has_role, teams_of


@rule("vocabulary.glossaryterm", "approve")
def _approve_term(user, term) -> bool:
    if user.is_superuser or has_role(user, Role.ADMIN):
        return True
    if term.proposed_by_id == user.pk:
        return False
    if has_role(user, Role.BOARD):
        return True
    return has_role(user, Role.APPROVER) and teams_of(user).filter(pk=term.owner_team_id).exists()

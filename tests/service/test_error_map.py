"""Issue #11: one exception map. Services raise the domain's refusals
(``config.errors``); ``config.api`` answers them once: Conflict 409, Refused 403,
BadParameter 400, Missing 404, naming the field when the service named one."""

import pytest
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from config.errors import BadParameter, Conflict, Missing, Refused
from lineage.graph import NodeNotFound
from playbooks.services import IncidentConflict, NotAllowed
from registry.gate.exceptions import GateConflict, GateRefused, ProtectedEnvironment


def _answer(exc):
    class Raising(APIView):
        authentication_classes: list = []
        permission_classes: list = []

        def get(self, request):
            raise exc
            return Response()  # pragma: no cover

    return Raising.as_view()(APIRequestFactory().get("/"))


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (Conflict("Already closed."), 409, "conflict"),
        (Refused("Not yours to decide."), 403, "permission_denied"),
        (BadParameter("Not a number."), 400, "invalid"),
        (Missing("No such node."), 404, "not_found"),
        (IncidentConflict("An incident that is closed cannot become open."), 409, "conflict"),
        (NotAllowed("A decision right names who may close."), 403, "permission_denied"),
        (GateConflict("You have already decided on this request."), 409, "conflict"),
        (
            ProtectedEnvironment("production takes approved requests only."),
            403,
            "permission_denied",
        ),
        (NodeNotFound("no dataset 'x'"), 404, "not_found"),
    ],
)
def test_each_refusal_has_one_answer(exc, status, code):
    answer = _answer(exc)
    assert answer.status_code == status
    assert answer.data == {"status": status, "error": code, "message": str(exc)}


def test_a_named_field_is_in_the_answer():
    answer = _answer(IncidentConflict("A completed review is final.", field="status"))
    assert answer.status_code == 409
    assert answer.data["fields"] == {"status": ["A completed review is final."]}
    assert answer.data["message"] == "status: A completed review is final."


def test_a_refusal_is_no_conflict_and_no_exception_carries_a_status():
    assert not issubclass(NotAllowed, Conflict) and issubclass(NotAllowed, Refused)
    assert not issubclass(GateRefused, Conflict)
    for kind in (IncidentConflict, NotAllowed, GateConflict, GateRefused, NodeNotFound):
        assert not hasattr(kind, "status") and not hasattr(kind, "status_code")

"""The audit trail's source address behind proxies: only the hop our own proxies
wrote counts, and it must be an IP address."""

import pytest

from audit.models import AuditEvent
from tests.conftest import token_client

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.2"  # REMOTE_ADDR: the proxy nearest to govreg


def source_of_a_write(user, forwarded_for=None) -> str | None:
    """Issue a token over the API as ``user`` and return the source address audited."""
    client = token_client(user)
    headers = {"REMOTE_ADDR": PROXY}
    if forwarded_for is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded_for
    before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    response = client.post("/api/tokens/", {"name": "from-afar"}, format="json", **headers)
    assert response.status_code == 201
    sources = set(
        AuditEvent.objects.filter(seq__gt=before).values_list("source_address", flat=True)
    )
    assert len(sources) == 1
    return sources.pop()


@pytest.fixture
def behind_proxies(settings):
    def configure(count: int):
        settings.GOVREG_TRUST_X_FORWARDED_FOR = True
        settings.GOVREG_TRUSTED_PROXY_COUNT = count

    return configure


def test_without_trust_the_header_is_ignored(owner, settings):
    settings.GOVREG_TRUST_X_FORWARDED_FOR = False
    assert source_of_a_write(owner, "203.0.113.7") == PROXY


def test_a_forged_leftmost_hop_is_not_taken(owner, behind_proxies):
    behind_proxies(1)
    # the client sent "X-Forwarded-For: 6.6.6.6"; our one proxy appended the real peer
    assert source_of_a_write(owner, "6.6.6.6, 203.0.113.7") == "203.0.113.7"


def test_the_hop_written_by_the_outermost_of_two_proxies(owner, behind_proxies):
    behind_proxies(2)
    assert source_of_a_write(owner, "6.6.6.6, 203.0.113.7, 10.0.0.1") == "203.0.113.7"


def test_fewer_hops_than_proxies_falls_back_to_the_peer(owner, behind_proxies):
    behind_proxies(2)
    assert source_of_a_write(owner, "203.0.113.7") == PROXY


@pytest.mark.parametrize(
    "forwarded_for",
    ["not-an-address", "203.0.113.7:443", "<script>", "999.1.1.1", "", " , "],
)
def test_a_hop_that_is_not_an_address_falls_back_to_the_peer(owner, behind_proxies, forwarded_for):
    behind_proxies(1)
    assert source_of_a_write(owner, forwarded_for) == PROXY


def test_ipv6_hops_are_kept_normalised(owner, behind_proxies):
    behind_proxies(1)
    assert source_of_a_write(owner, "2001:DB8:0:0::1") == "2001:db8::1"

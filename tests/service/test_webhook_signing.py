"""Outgoing webhooks are signed with GOVREG_WEBHOOK_SECRET or not sent at all."""

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured

from playbooks.webhooks import SIGNATURE_HEADER, post_signed, verify


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.headers.get(SIGNATURE_HEADER), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver_url():
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("secret", [None, ""])
def test_without_a_webhook_secret_nothing_is_sent(settings, receiver_url, secret):
    settings.GOVREG_WEBHOOK_SECRET = secret
    with pytest.raises(ImproperlyConfigured, match="GOVREG_WEBHOOK_SECRET"):
        post_signed(receiver_url, "incident.escalated", {"incident": {"id": 1}})
    assert _Receiver.received == []


def test_with_a_webhook_secret_the_body_is_signed_with_it_not_the_secret_key(
    settings, receiver_url
):
    settings.GOVREG_WEBHOOK_SECRET = "whsec-own-key-8c1d"
    post_signed(receiver_url, "incident.escalated", {"incident": {"id": 1}})
    [(signature, body)] = _Receiver.received
    assert verify(body, signature, "whsec-own-key-8c1d")
    assert not verify(body, signature, settings.SECRET_KEY)

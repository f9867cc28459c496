"""The webhook engine alone: Standard Webhooks signatures, the retry schedule, the SSRF guard, one delivery."""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from webhooks.delivery import DRAIN_BYTES, ConnectionPool, deliver
from webhooks.errors import UnsafeURL, VerificationError
from webhooks.schedule import DEFAULT_SCHEDULE, RetrySchedule
from webhooks.signing import generate_secret, sign, signature_header, verify, webhook_headers
from webhooks.ssrf import AllowList, check_url

# The example published with the Standard Webhooks specification (and its reference libraries).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def spec_headers(signature: str = SPEC_SIGNATURE) -> dict[str, str]:
    return {"webhook-id": SPEC_ID, "webhook-timestamp": str(SPEC_TIMESTAMP), "webhook-signature": signature}


# --- signing ---------------------------------------------------------------------------------------------

def test_the_signature_of_the_specification_example_is_reproduced_exactly():
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_the_secret_prefix_is_optional_as_in_the_reference_libraries():
    assert sign(SPEC_SECRET.removeprefix("whsec_"), SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_the_specification_example_verifies_and_gives_back_the_payload():
    assert verify(SPEC_BODY, spec_headers(), SPEC_SECRET, now=SPEC_TIMESTAMP) == {"test": 2432232314}


def test_verification_ignores_the_case_of_header_names():
    headers = {key.title(): value for key, value in spec_headers().items()}
    assert verify(SPEC_BODY, headers, SPEC_SECRET, now=SPEC_TIMESTAMP + 10)


def test_a_changed_body_does_not_verify():
    with pytest.raises(VerificationError, match="no matching signature"):
        verify(b'{"test": 2432232315}', spec_headers(), SPEC_SECRET, now=SPEC_TIMESTAMP)


def test_another_secret_does_not_verify():
    with pytest.raises(VerificationError):
        verify(SPEC_BODY, spec_headers(), generate_secret(), now=SPEC_TIMESTAMP)


def test_a_missing_header_does_not_verify():
    headers = spec_headers()
    del headers["webhook-id"]
    with pytest.raises(VerificationError, match="missing"):
        verify(SPEC_BODY, headers, SPEC_SECRET, now=SPEC_TIMESTAMP)


def test_a_timestamp_outside_the_tolerance_window_is_refused_both_ways():
    assert verify(SPEC_BODY, spec_headers(), SPEC_SECRET, now=SPEC_TIMESTAMP + 299)
    with pytest.raises(VerificationError, match="too old"):
        verify(SPEC_BODY, spec_headers(), SPEC_SECRET, now=SPEC_TIMESTAMP + 301)
    with pytest.raises(VerificationError, match="future"):
        verify(SPEC_BODY, spec_headers(), SPEC_SECRET, now=SPEC_TIMESTAMP - 301)
    assert verify(SPEC_BODY, spec_headers(), SPEC_SECRET, now=SPEC_TIMESTAMP + 3000, tolerance=3600)


def test_during_a_rotation_both_secrets_sign_and_either_verifies():
    old, new = generate_secret(), generate_secret()
    header = signature_header([new, old], SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    assert len(header.split(" ")) == 2 and all(part.startswith("v1,") for part in header.split(" "))
    headers = {**spec_headers(), "webhook-signature": header}
    assert verify(SPEC_BODY, headers, old, now=SPEC_TIMESTAMP)
    assert verify(SPEC_BODY, headers, new, now=SPEC_TIMESTAMP)
    with pytest.raises(VerificationError):
        verify(SPEC_BODY, headers, generate_secret(), now=SPEC_TIMESTAMP)


def test_a_receiver_may_hold_several_secrets_and_unknown_signature_versions_are_skipped():
    headers = spec_headers(f"v1a,notours v1,bm9wZQ== {SPEC_SIGNATURE}")
    assert verify(SPEC_BODY, headers, [generate_secret(), SPEC_SECRET], now=SPEC_TIMESTAMP)


def test_the_three_headers_carry_id_timestamp_and_signature():
    headers = webhook_headers([SPEC_SECRET], SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    assert headers == spec_headers()


def test_generated_secrets_are_prefixed_random_and_usable():
    first, second = generate_secret(), generate_secret()
    assert first.startswith("whsec_") and first != second
    assert verify(SPEC_BODY, webhook_headers([first], "msg_1", 100, SPEC_BODY), first, now=100)


# --- schedule ------------------------------------------------------------------------------------------

def test_the_default_schedule_is_immediately_then_5s_5min_30min_2h_5h_10h_10h():
    assert DEFAULT_SCHEDULE.delays == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert DEFAULT_SCHEDULE.attempts == 8
    assert DEFAULT_SCHEDULE.delay(1) == 0
    assert DEFAULT_SCHEDULE.delay(9) is None and DEFAULT_SCHEDULE.delay(0) is None


def test_delays_are_jittered_within_the_bounds():
    rng = random.Random(7)
    delays = [DEFAULT_SCHEDULE.delay(3, rng) for _ in range(200)]
    assert all(270 <= d <= 330 for d in delays)
    assert len({round(d, 3) for d in delays}) > 100  # spread, not one value


def test_a_schedule_without_jitter_is_exact_and_impossible_schedules_are_refused():
    assert RetrySchedule((0, 1.5), jitter=0).delay(2) == 1.5
    with pytest.raises(ValueError):
        RetrySchedule(())
    with pytest.raises(ValueError):
        RetrySchedule((0, -1))
    with pytest.raises(ValueError):
        RetrySchedule((0, 1), jitter=1.5)


# --- SSRF guard ----------------------------------------------------------------------------------------

def resolver(*addresses: str):
    return lambda host, port: list(addresses)


@pytest.mark.parametrize("url, reason", [
    ("http://127.0.0.1/hook", "bouclage"),
    ("http://10.1.2.3/hook", "privée"),
    ("http://192.168.1.10:8080/hook", "privée"),
    ("http://172.16.0.1/hook", "privée"),
    ("http://169.254.169.254/latest/meta-data/", "métadonnées"),
    ("http://[::1]/hook", "bouclage"),
    ("http://[fe80::1]/hook", "lien local"),
    ("http://[::ffff:127.0.0.1]/hook", "bouclage"),
    ("http://[fd00:ec2::254]/hook", "métadonnées"),
    ("http://100.100.100.200/", "métadonnées"),
    ("http://0.0.0.0/hook", "non spécifiée"),
    ("http://224.0.0.1/hook", "multidiffusion"),
    ("http://240.0.0.1/hook", "privée|réservée"),
    ("http://100.64.0.1/hook", "non publique"),
])
def test_internal_addresses_are_refused(url, reason):
    with pytest.raises(UnsafeURL, match=reason):
        check_url(url)


def test_localhost_is_refused():
    with pytest.raises(UnsafeURL, match="le nom localhost ne désigne que des adresses refusées : 127.0.0.1 est une "
                                        "adresse de bouclage"):
        check_url("http://localhost:8000/hook")


def test_numeric_spellings_of_loopback_are_refused_once_resolved():
    with pytest.raises(UnsafeURL, match="bouclage"):
        check_url("http://2130706433/hook")  # 127.0.0.1 as one number


def test_a_host_name_resolving_to_a_private_address_is_refused():
    with pytest.raises(UnsafeURL, match="10.0.0.7 est une adresse privée"):
        check_url("https://sirh.example.com/hook", resolve=resolver("10.0.0.7"))


def test_a_public_host_is_accepted_with_the_addresses_that_were_checked():
    target = check_url("https://sirh.example.com:8443/hooks/parcours?x=1", resolve=resolver("93.184.215.14"))
    assert (target.scheme, target.host, target.port, target.path) == ("https", "sirh.example.com", 8443, "/hooks/parcours?x=1")
    assert target.addresses == ("93.184.215.14",)


def test_only_the_permitted_addresses_of_a_mixed_answer_are_kept():
    target = check_url("http://mixed.example.com/", resolve=resolver("10.0.0.1", "93.184.215.14"))
    assert target.addresses == ("93.184.215.14",)


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "file:///etc/passwd", "gopher://example.com/",
                                 "javascript:alert(1)", "example.com/hook", "http:///nohost"])
def test_only_http_and_https_urls_with_a_host_are_accepted(url):
    with pytest.raises(UnsafeURL):
        check_url(url, resolve=resolver("93.184.215.14"))


def test_credentials_in_the_url_are_refused():
    with pytest.raises(UnsafeURL, match="identifiant ou un mot de passe"):
        check_url("https://user:pass@example.com/hook", resolve=resolver("93.184.215.14"))


def test_an_unresolvable_host_is_refused():
    def fail(host, port):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    with pytest.raises(UnsafeURL, match="le nom nowhere.invalid est introuvable dans le DNS$"):
        check_url("https://nowhere.invalid/", resolve=fail)


@pytest.mark.parametrize("url, resolve", [
    ("http://x:99999/", None), ("ftp://example.com/", None), ("https://u:p@example.com/", None), ("http:///x", None),
    ("http://127.0.0.1/", None), ("http://[::1]/", None),
    ("https://sirh.example.com/", resolver("10.0.0.7", "fe80::1")),
    ("https://nowhere.example/", resolver()),
])
def test_every_refusal_is_said_in_french(url, resolve):
    # The reason reaches the admin as it is (API problem, web form, attempt log): no English sentence in it.
    with pytest.raises(UnsafeURL) as refused:
        check_url(url, resolve=resolve or resolver("93.184.215.14"))
    assert not re.search(r"\b(is|only|the|address|resolves|refused|cannot|has no|malformed)\b", refused.value.reason)


def test_the_allow_list_admits_addresses_networks_and_host_names():
    allow = AllowList.parse(" 127.0.0.1, 10.20.0.0/16 ,sirh.interne., ::1")
    assert check_url("http://127.0.0.1:9000/", allow).addresses == ("127.0.0.1",)
    assert check_url("http://[::1]:9000/", allow).addresses == ("::1",)
    assert check_url("http://10.20.3.4/", allow).addresses == ("10.20.3.4",)
    assert check_url("http://SIRH.interne/", allow, resolve=resolver("192.168.0.9")).addresses == ("192.168.0.9",)
    with pytest.raises(UnsafeURL):
        check_url("http://10.21.0.1/", allow)
    with pytest.raises(UnsafeURL):
        check_url("http://169.254.169.254/", allow)


def test_a_malformed_allow_list_entry_is_named():
    with pytest.raises(ValueError, match="not a host"):
        AllowList.parse("127.0.0.1, 10.0.0.0/33")


# --- one delivery, against a receiver on loopback --------------------------------------------------------

class Receiver:
    """A tiny HTTP server on 127.0.0.1 whose answer each test chooses."""

    def __init__(self, status: int = 204, body: bytes = b"", headers: dict[str, str] | None = None,
                 delay: float = 0.0) -> None:
        self.requests: list[dict] = []
        outer = self

        class Handle(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length", 0))
                outer.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                       "body": self.rfile.read(length)})
                time.sleep(delay)
                try:
                    self.send_response(status)
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the sender gave up (timeout)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


LOCAL = AllowList.parse("127.0.0.1")


@pytest.fixture
def receiver_factory():
    made = []

    def make(**kwargs) -> Receiver:
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def test_a_delivery_posts_the_signed_body_and_keeps_the_start_of_the_answer(receiver_factory):
    receiver = receiver_factory(status=200, body=b"ok " * 1000)
    secret, body = generate_secret(), json.dumps({"type": "document.generated"}).encode()
    result = deliver(receiver.url(), body, webhook_headers([secret], "msg_1", int(time.time()), body), allow=LOCAL)
    assert result.ok and result.status == 200 and result.address == "127.0.0.1"
    assert len(result.excerpt) == 1024 and result.excerpt.startswith("ok ok")
    request = receiver.requests[0]
    assert request["body"] == body and request["headers"]["content-type"] == "application/json"
    assert verify(request["body"], request["headers"], secret) == {"type": "document.generated"}


def test_a_loopback_receiver_is_refused_without_the_allow_list(receiver_factory):
    receiver = receiver_factory()
    result = deliver(receiver.url(), b"{}", {})
    assert not result.ok and result.status is None and result.error.startswith("URL refusée : l'adresse 127.0.0.1")
    assert receiver.requests == []


def test_redirects_are_not_followed(receiver_factory):
    target = receiver_factory(status=200)
    redirecting = receiver_factory(status=307, headers={"Location": target.url("/elsewhere")})
    result = deliver(redirecting.url(), b"{}", {}, allow=LOCAL)
    assert result.status == 307 and not result.ok
    assert len(redirecting.requests) == 1 and target.requests == []


def test_a_receiver_slower_than_the_timeout_is_cut_at_the_timeout(receiver_factory):
    receiver = receiver_factory(delay=3)
    start = time.monotonic()
    result = deliver(receiver.url(), b"{}", {}, allow=LOCAL, timeout=0.5)
    assert time.monotonic() - start < 1.5
    assert result.status is None and result.error == "délai dépassé" and 450 <= result.latency_ms < 1500


def test_a_closed_port_is_a_failed_attempt_not_an_exception(receiver_factory):
    receiver = receiver_factory()
    url = receiver.url()
    receiver.close()
    result = deliver(url, b"{}", {}, allow=LOCAL, timeout=2)
    assert result.status is None and result.error == "connexion refusée"


def test_the_connection_goes_to_the_checked_address_with_the_host_name_kept(receiver_factory):
    # DNS rebinding: the delivery never resolves again; it connects to the address the guard approved.
    receiver = receiver_factory(status=204)
    answers = iter([["127.0.0.1"], ["10.9.9.9"]])
    result = deliver(f"http://hooks.example:{receiver.port}/in", b"{}", {},
                     allow=AllowList.parse("hooks.example"), resolve=lambda host, port: next(answers))
    assert result.status == 204
    assert receiver.requests[0]["headers"]["host"] == f"hooks.example:{receiver.port}"
    assert receiver.requests[0]["path"] == "/in"


def test_a_410_answer_says_gone(receiver_factory):
    receiver = receiver_factory(status=410)
    result = deliver(receiver.url(), b"{}", {}, allow=LOCAL)
    assert result.gone and not result.ok


# --- keep-alive connections --------------------------------------------------------------------------------

class _QuietServer(ThreadingHTTPServer):
    """A client that closes its connection, on purpose here, is no error worth a traceback."""

    def handle_error(self, request, client_address):
        pass


class KeepAliveReceiver:
    """An HTTP/1.1 server on 127.0.0.1 that keeps connections open (closing them after `idle` seconds
    if given) and notes from which client port each request came."""

    def __init__(self, body: bytes = b"", idle: float | None = None) -> None:
        self.ports: list[int] = []
        outer = self

        class Handle(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            timeout = idle

            def do_POST(self):  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.ports.append(self.client_address[1])
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handle)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def keep_alive():
    made = []

    def make(**kwargs) -> KeepAliveReceiver:
        made.append(KeepAliveReceiver(**kwargs))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def test_with_a_pool_deliveries_to_a_receiver_share_one_connection(keep_alive):
    receiver, pool = keep_alive(body=b"merci"), ConnectionPool()
    results = [deliver(receiver.url(), b"{}", {}, allow=LOCAL, pool=pool) for _ in range(5)]
    assert [(r.status, r.excerpt) for r in results] == [(200, "merci")] * 5
    assert len(set(receiver.ports)) == 1
    pool.close()


def test_without_a_pool_each_delivery_has_its_own_connection(keep_alive):
    receiver = keep_alive()
    for _ in range(3):
        assert deliver(receiver.url(), b"{}", {}, allow=LOCAL).ok
    assert len(set(receiver.ports)) == 3


def test_a_connection_the_receiver_closed_while_idle_is_replaced_without_a_failed_attempt(keep_alive):
    receiver, pool = keep_alive(idle=0.05), ConnectionPool()
    assert deliver(receiver.url(), b"{}", {}, allow=LOCAL, pool=pool).ok
    time.sleep(0.3)  # the receiver has closed it
    assert deliver(receiver.url(), b"{}", {}, allow=LOCAL, pool=pool).ok
    assert len(set(receiver.ports)) == 2
    pool.close()


def test_a_long_answer_is_not_read_to_its_end_and_its_connection_is_not_kept(keep_alive):
    receiver, pool = keep_alive(body=b"x" * (DRAIN_BYTES + 1)), ConnectionPool()
    for _ in range(2):
        result = deliver(receiver.url(), b"{}", {}, allow=LOCAL, pool=pool)
        assert result.ok and len(result.excerpt) == 1024
    assert len(set(receiver.ports)) == 2
    pool.close()


def test_a_kept_connection_is_not_used_once_the_host_resolves_elsewhere(keep_alive):
    # DNS rebinding through a kept connection: the host is resolved at every attempt, and a connection
    # serves only the address that was approved for it.
    receiver, pool = keep_alive(), ConnectionPool()
    answers = iter([["127.0.0.1"], ["127.0.0.2"]])
    url = f"http://hooks.example:{receiver.port}/in"
    allow = AllowList.parse("hooks.example")
    first = deliver(url, b"{}", {}, allow=allow, pool=pool, resolve=lambda host, port: next(answers))
    second = deliver(url, b"{}", {}, allow=allow, pool=pool, resolve=lambda host, port: next(answers), timeout=2)
    assert first.ok and second.address is None and second.error == "connexion refusée"
    assert len(receiver.ports) == 1
    pool.close()

"""redis-py (Debian's python3-redis) against corral: pipelines, MULTI/WATCH, pub/sub, blocking pops,
ACL users, CLIENT LIST/KILL, TLS (ssl=True). redis-py 4.3 speaks RESP2 only; corral's RESP3 is covered
by the C++ tests. Started by tests/clients/run.py, which sets CORRAL_PORT (corral in front of a
redis-server that has the ACL user alice/pw), CORRAL_TLS_PORT (a TLS listener of the same corral) and
CORRAL_TLS_CA (the CA that signed its certificate)."""

import os
import threading
import time
import unittest

import redis

PORT = int(os.environ["CORRAL_PORT"])


def connect(**options):
    return redis.Redis(host="127.0.0.1", port=PORT, decode_responses=True, socket_timeout=10, **options)


class RedisPy(unittest.TestCase):
    def test_tls(self):
        r = redis.Redis(host="127.0.0.1", port=int(os.environ["CORRAL_TLS_PORT"]), decode_responses=True,
                        socket_timeout=10, ssl=True, ssl_ca_certs=os.environ["CORRAL_TLS_CA"], ssl_cert_reqs="required")
        pipe = r.pipeline(transaction=False)
        pipe.set("py:tls", "secret").get("py:tls")
        self.assertEqual(pipe.execute(), [True, "secret"])
        self.assertEqual(connect().get("py:tls"), "secret")  # the same backend as the plain listener
        untrusted = redis.Redis(host="127.0.0.1", port=int(os.environ["CORRAL_TLS_PORT"]), socket_timeout=10,
                                ssl=True, ssl_cert_reqs="required")  # the system's CAs do not know the test CA
        with self.assertRaises(redis.ConnectionError):
            untrusted.ping()

    def test_pipeline(self):
        r = connect()
        pipe = r.pipeline(transaction=False)
        pipe.set("py:p", 1).incr("py:p").incrby("py:p", 5).get("py:p")
        self.assertEqual(pipe.execute(), [True, 2, 7, "7"])

    def test_transaction_and_watch(self):
        r = connect()
        other = connect()
        r.set("py:w", "0")
        with r.pipeline() as pipe:
            pipe.watch("py:w")
            other.set("py:w", "changed")
            pipe.multi()
            pipe.set("py:w", "mine")
            with self.assertRaises(redis.WatchError):
                pipe.execute()
        self.assertEqual(r.get("py:w"), "changed")

        def increment(pipe):
            value = int(pipe.get("py:counter") or 0)
            pipe.multi()
            pipe.set("py:counter", value + 1)

        r.delete("py:counter")
        r.transaction(increment, "py:counter")
        self.assertEqual(r.get("py:counter"), "1")

    def test_pubsub(self):
        r = connect()
        pubsub = connect().pubsub()
        pubsub.subscribe("py:chan")
        pubsub.psubscribe("py:pat*")
        for _ in range(2):
            self.assertIn(pubsub.get_message(timeout=5)["type"], ("subscribe", "psubscribe"))
        self.assertEqual(r.publish("py:chan", "hello"), 1)
        self.assertEqual(r.publish("py:pattern", "world"), 1)
        message = pubsub.get_message(timeout=5)
        self.assertEqual((message["type"], message["channel"], message["data"]), ("message", "py:chan", "hello"))
        message = pubsub.get_message(timeout=5)
        self.assertEqual((message["type"], message["channel"], message["data"]), ("pmessage", "py:pattern", "world"))
        pubsub.unsubscribe()
        pubsub.punsubscribe()
        for _ in range(2):
            self.assertIn(pubsub.get_message(timeout=5)["type"], ("unsubscribe", "punsubscribe"))
        self.assertEqual(r.publish("py:chan", "nobody"), 0)
        pubsub.close()

    def test_blocking_pop(self):
        r = connect()
        r.delete("py:list")
        self.assertIsNone(r.blpop("py:list", timeout=0.05))
        pusher = threading.Timer(0.05, lambda: connect().rpush("py:list", "x"))
        pusher.start()
        self.assertEqual(r.blpop("py:list", timeout=5), ("py:list", "x"))
        pusher.join()

    def test_acl_user(self):
        alice = connect(username="alice", password="pw")
        self.assertEqual(alice.acl_whoami(), "alice")
        # redis-py 4.3 raises WRONGPASS at connect as a plain ResponseError.
        with self.assertRaisesRegex(redis.ResponseError, "WRONGPASS"):
            connect(username="alice", password="wrong").ping()
        r = connect()
        self.assertEqual(r.acl_whoami(), "default")
        r.auth("pw", username="alice")
        self.assertEqual(r.acl_whoami(), "alice")

    def test_client_list_and_kill(self):
        victim = connect(client_name="py-victim")
        victim.ping()
        victim_id = victim.client_id()
        r = connect()
        names = {c["name"]: int(c["id"]) for c in r.client_list()}
        self.assertEqual(names.get("py-victim"), victim_id)
        self.assertTrue(r.client_kill_filter(_id=victim_id))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and victim_id in {int(c["id"]) for c in r.client_list()}:
            time.sleep(0.01)
        self.assertNotIn(victim_id, {int(c["id"]) for c in r.client_list()})


if __name__ == "__main__":
    unittest.main()

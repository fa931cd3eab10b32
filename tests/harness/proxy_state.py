"""The fault proxy's state: its settings, counters and EC2-style token buckets, and the
fate of each request (hang, reset, error, deny, answer, throttle, forward).
Split from fault_proxy.py (the HTTP side); its module doc lists every setting."""

import json
import random
import threading
import time

try:
    from harness.stale_reads import StaleReads
except ImportError:  # run as a script: tests/harness is on sys.path
    from stale_reads import StaleReads

NON_MUTATING = ("Describe", "Get", "List", "Search")
ERRORS = {
    500: ("InternalError", "An internal error has occurred."),
    503: ("Unavailable", "The server is overloaded or unable to handle the request."),
}
DEFAULTS = {
    "latency": 0.0, "error_status": 503,
    "error_rate": 0.0, "error_next": 0, "reset_rate": 0.0, "reset_next": 0,
    "hang_rate": 0.0, "hang_next": 0, "hang_seconds": 0.0,
    "throttle": True, "describe_bucket": [100, 20.0], "mutating_bucket": [50, 5.0],
    "action_buckets": {}, "fault_actions": None, "seed": None, "deny_actions": [],
    "answer_actions": {}, "answer_except_keys": None,
    "stale_window": 0.0, "stale_keys": None,
    "route53_bucket": [5, 5.0], "route53_pending": 0.0,
}


def is_mutating(action):
    return not action.startswith(NON_MUTATING)


class TokenBucket:
    """`size` tokens, refilled continuously at `rate` per second, never above `size`."""

    def __init__(self, size, rate, now):
        self.size, self.rate = float(size), float(rate)
        self.tokens, self.stamp = float(size), now

    def level(self, now):
        self.tokens = min(self.size, self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = now
        return self.tokens

    def take(self, now):
        """Take one token if there is one; False means throttled (nothing taken)."""
        if self.level(now) >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class ProxyState:
    """Settings, buckets and counters shared by the handler threads, behind one lock."""

    def __init__(self, clock=time.monotonic, **settings):
        self.clock = clock
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.cfg = json.loads(json.dumps(DEFAULTS))
        self.rng = random.Random()
        # Requests at the upstream right now, and since when it has been busy: kept across
        # reset(), which only zeroes the counters.
        self._upstream_open, self._busy_since = 0, 0.0
        # EC2's lagging answers are state, not counters: reset() keeps them.
        self.stale = StaleReads()
        self.route53_changed = None  # when the last Route 53 change went through (pending mode)
        self._zero()
        self.configure(**settings)

    def _zero(self):
        self.requests, self.throttled_by_action = {}, {}
        self.faults = {"error": 0, "reset": 0, "hang": 0}
        self.forwarded = self.upstream_errors = self.in_flight = self.max_in_flight = 0
        # Seconds with at least one request at the upstream (moto serves one at a time
        # under the GIL, so this is close to its total service time).
        self.upstream_busy = 0.0
        self.buckets = {}

    def configure(self, **settings):
        unknown = set(settings) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        if settings.get("error_status", 503) not in ERRORS:
            raise ValueError(f"error_status must be one of {sorted(ERRORS)}")
        with self.lock:
            for key, value in settings.items():
                self.cfg[key] = list(value) if isinstance(value, tuple) else value
            if "seed" in settings:
                self.rng.seed(settings["seed"])
            if {"describe_bucket", "mutating_bucket", "action_buckets", "route53_bucket"} & set(settings):
                self.buckets = {}  # rebuilt full, with the new sizes, on next use

    def reset(self):
        with self.lock:
            self._zero()
            self._busy_since = self.clock()  # a request still at the upstream counts from now

    def upstream_begin(self):
        with self.lock:
            self._upstream_open += 1
            if self._upstream_open == 1:
                self._busy_since = self.clock()

    def upstream_end(self):
        with self.lock:
            self._upstream_open -= 1
            if self._upstream_open == 0:
                self.upstream_busy += self.clock() - self._busy_since

    def bucket_spec(self, action):
        if action == "Route53":
            return self.cfg["route53_bucket"]
        spec = self.cfg["action_buckets"].get(action)
        if spec is None:
            spec = self.cfg["mutating_bucket" if is_mutating(action) else "describe_bucket"]
        return spec

    def wrote(self):
        with self.lock:
            self.stale.wrote(self.clock(), self.cfg["stale_window"])

    def stale_answer(self, caller, body):
        with self.lock:
            return self.stale.replay(self.clock(), caller, body, self.cfg["stale_keys"])

    def remember(self, caller, body, answer):
        with self.lock:
            if self.cfg["stale_window"] > 0:
                self.stale.remember(caller, body, answer)

    def decide(self, action, bucket_name=None):
        """Count the request and choose its fate: hang/reset/error/throttle/forward.
        `bucket_name`: the bucket it takes a token from (default: its action's own)."""
        with self.lock:
            cfg = self.cfg
            self.requests[action] = self.requests.get(action, 0) + 1
            if action in cfg["deny_actions"]:
                return "deny"
            if action in cfg["answer_actions"]:
                return "answer"
            targeted = cfg["fault_actions"] is None or action in cfg["fault_actions"]
            for kind in ("hang", "reset", "error") if targeted else ():
                if cfg[kind + "_next"] > 0:
                    cfg[kind + "_next"] -= 1
                elif not (cfg[kind + "_rate"] > 0 and self.rng.random() < cfg[kind + "_rate"]):
                    continue
                self.faults[kind] += 1
                return kind
            if cfg["throttle"]:
                name = bucket_name or action
                bucket = self.buckets.get(name)
                if bucket is None:
                    bucket = self.buckets[name] = TokenBucket(*self.bucket_spec(name), self.clock())
                if not bucket.take(self.clock()):
                    self.throttled_by_action[action] = self.throttled_by_action.get(action, 0) + 1
                    return "throttle"
            return "forward"

    def stats(self):
        with self.lock:
            return {
                "requests": dict(self.requests),
                "total": sum(self.requests.values()),
                "throttled": sum(self.throttled_by_action.values()),
                "throttled_by_action": dict(self.throttled_by_action),
                "faults": dict(self.faults),
                "forwarded": self.forwarded,
                "upstream_errors": self.upstream_errors,
                "max_in_flight": self.max_in_flight,
                "upstream_busy": round(self.upstream_busy, 4),
                "stale_served": self.stale.served,  # since start (not reset)
                "config": json.loads(json.dumps(self.cfg)),
            }

"""Eventual consistency for the fault proxy: EC2 answers Describe* from replicas that may lag
a write for a while; moto never does. This keeps the last answer per (caller, request) and,
for `window` seconds after each write, replays the answers as they were before the window's
first write (stdlib only)."""


class StaleReads:
    """Not thread-safe by itself: the proxy calls it under its own lock."""

    def __init__(self):
        self.answers, self.snapshot, self.until, self.served = {}, {}, 0.0, 0

    def wrote(self, now, window):
        """A mutating call is about to reach the upstream: open (or extend) the window."""
        if window <= 0:
            return
        if now >= self.until:
            self.snapshot = dict(self.answers)
        self.until = now + window

    def replay(self, now, caller, body, keys):
        """The pre-write answer for this request, or None (forward it). `keys`: access-key
        prefixes of the stale callers (None = every caller)."""
        if now >= self.until or not (keys is None or any(caller.startswith(k) for k in keys)):
            return None
        answer = self.snapshot.get((caller, body))
        if answer is not None:
            self.served += 1
        return answer

    def remember(self, caller, body, answer):
        self.answers[(caller, body)] = answer

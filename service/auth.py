"""API keys (`Authorization: Bearer <key>`) and per-key rate limits, as ASGI middleware for every path.

Keys come from ROUTER_API_KEYS (comma-separated) and ROUTER_API_KEYS_FILE (one per line). They are kept
as SHA-256 digests and a presented key is compared with every one of them by `hmac.compare_digest`, so
the time taken says neither which key nor how much of one matched. No key configured means the service
is open, and start-up logs a loud warning saying so. Public paths (default /health, /ready, /metrics)
need no key. Rate limits are a token bucket per key, in memory (per process, not shared by replicas).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import Rejection
from service.settings import SettingsError

log = logging.getLogger(__name__)

OPEN_WARNING = (
    "NO API KEY CONFIGURED: every endpoint is open to anyone who can reach %s:%s. "
    "Set ROUTER_API_KEYS or ROUTER_API_KEYS_FILE before exposing this service beyond localhost."
)


MIN_KEY_CHARS = 16


def read_keys(inline: str | None, path: Path | None) -> list[str]:
    """Keys from a comma-separated string and a file (one per line; blank lines and # comments skipped)."""
    keys = [key.strip() for key in (inline or "").split(",") if key.strip()]
    if path is not None:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeError) as error:
            raise SettingsError(f"ROUTER_API_KEYS_FILE: cannot read {path}: {error}") from None
        keys += [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    short = sum(len(key) < MIN_KEY_CHARS for key in keys)
    if short:  # never log a key, not even a weak one
        log.warning(
            "%d API key(s) shorter than %d characters: easy to guess, use longer ones", short, MIN_KEY_CHARS
        )
    return keys


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


class KeyRing:
    def __init__(self, keys: list[str]) -> None:
        self._digests = [_digest(key) for key in dict.fromkeys(keys)]

    def __bool__(self) -> bool:
        return bool(self._digests)

    def __len__(self) -> int:
        return len(self._digests)

    def identify(self, presented: str) -> str | None:
        """A short, non-secret id of the matching key (for rate limits and logs), or None."""
        digest = _digest(presented)
        match = None
        for known in self._digests:  # no early exit: every key is compared every time
            if hmac.compare_digest(digest, known):
                match = known
        return match.hex()[:12] if match is not None else None


class RateLimiter:
    """A token bucket per key: `rate_per_minute` sustained, bursts up to `burst`."""

    def __init__(self, rate_per_minute: int, burst: int | None = None, *, clock=time.monotonic) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst or rate_per_minute)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, key_id: str) -> float:
        """0 if the request may go ahead (and spend a token); otherwise seconds until it may."""
        now = self._clock()
        tokens, last = self._buckets.get(key_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key_id] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key_id] = (tokens, now)
        return (1.0 - tokens) / self.rate


class Authenticate:
    def __init__(
        self,
        app: ASGIApp,
        *,
        keys: KeyRing,
        public_paths: list[str],
        limiter: RateLimiter | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.app = app
        self.keys = keys
        self.public_paths = frozenset(public_paths)
        self.limiter = limiter
        self.rejections = Counter(
            "router_auth_rejections_total",
            "Requests refused by authentication or rate limits, by reason.",
            ["reason"],
            registry=registry or CollectorRegistry(),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys or scope["path"] in self.public_paths:
            await self.app(scope, receive, send)
            return
        try:
            self._admit(scope)
        except Rejection as rejection:
            self.rejections.labels(reason=rejection.code).inc()
            await rejection.response()(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _admit(self, scope: Scope) -> None:
        header = next((value for name, value in scope.get("headers") or () if name == b"authorization"), None)
        if header is None:
            raise _unauthorized(
                "missing_api_key", "no API key: send the header `Authorization: Bearer <key>`"
            )
        scheme, _, token = header.decode("latin-1").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("invalid_authorization", "the Authorization header must be `Bearer <key>`")
        key_id = self.keys.identify(token.strip())
        if key_id is None:
            raise _unauthorized("invalid_api_key", "the API key is not valid")
        if self.limiter is not None:
            wait = self.limiter.check(key_id)
            if wait > 0:
                raise Rejection(
                    429,
                    f"rate limit of {self.limiter.rate * 60:g} requests per minute for this API key exceeded "
                    f"(ROUTER_RATE_LIMIT_PER_MINUTE); retry in {wait:.1f}s",
                    "rate_limit_error",
                    code="rate_limited",
                    retry_after=wait,
                )


def _unauthorized(code: str, message: str) -> Rejection:
    return Rejection(401, message, "authentication_error", code=code, headers={"WWW-Authenticate": "Bearer"})

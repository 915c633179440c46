"""What a deployment serves: its routing and its settings, checked and serialized.

A routing names the primary model version and, optionally, a canary with
the percentage of requests it gets and a header that keeps a client on one
side of the split. It may also name a shadow version that gets a copy of
every scoring request. Every version is pinned (``models:/NAME/VERSION``)
when the deployment is created, so moving an alias later does not change
what a running deployment serves.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from tether.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
ROLES = ("primary", "canary", "shadow")

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# The characters of an HTTP header name (a "token" in RFC 9110, section 5.6.2).
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


DEFAULT_CANARY_TRAFFIC = 10
"""The percentage of traffic a new canary gets when none is given."""
KEEP = "keep"
"""A reroute argument that leaves its setting as it is."""


@dataclass(frozen=True)
class ModelTarget:
    """One model version that a deployment serves.

    Attributes:
        uri: The pinned URI, ``models:/NAME/VERSION``.
        requested: The URI as given, such as ``models:/flight-delay@champion``.
    """

    uri: str
    requested: str
    name: str
    version: int

    def to_dict(self) -> dict[str, Any]:
        """Return the target as JSON-compatible values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelTarget:
        """Build a target from :meth:`to_dict` output."""
        return cls(
            uri=str(data["uri"]),
            requested=str(data["requested"]),
            name=str(data["name"]),
            version=int(data["version"]),
        )


@dataclass(frozen=True)
class Routing:
    """The versions that serve requests, and how requests are split between them.

    Attributes:
        traffic: The percentage of scoring requests (0 to 100) that go to
            the canary. It is 0 without a canary.
        sticky_header: A request header whose value decides the side of the
            split, so one client always reaches the same version. Requests
            without the header are split by count.
        shadow: A version that gets a copy of every scoring request; its
            responses are logged and never returned.
    """

    primary: ModelTarget
    canary: ModelTarget | None = None
    traffic: int = 0
    sticky_header: str | None = None
    shadow: ModelTarget | None = None

    def __post_init__(self) -> None:
        check_traffic(self.traffic)
        if self.canary is None and self.traffic:
            raise ConfigError(
                f"--traffic {self.traffic} needs a canary; add --canary URI",
                setting="traffic",
                value=self.traffic,
            )
        if self.canary is None and self.sticky_header:
            raise ConfigError(
                "--sticky-header needs a canary; add --canary URI",
                setting="sticky_header",
                value=self.sticky_header,
            )
        if self.sticky_header is not None:
            check_header_name(self.sticky_header)
        seen: dict[str, str] = {}
        for role, target in self.targets().items():
            if target.uri in seen:
                raise ConfigError(
                    f"{target.uri} is both the {seen[target.uri]} and the {role}; "
                    "give each role a different model version",
                    setting=role,
                    value=target.uri,
                )
            seen[target.uri] = role

    def targets(self) -> dict[str, ModelTarget]:
        """Return the versions by role, for the roles that are set."""
        roles = {"primary": self.primary, "canary": self.canary, "shadow": self.shadow}
        return {role: target for role, target in roles.items() if target is not None}

    def targets_by_uri(self) -> dict[str, ModelTarget]:
        """Return the versions of every role, by pinned URI."""
        return {target.uri: target for target in self.targets().values()}

    def routed_targets(self) -> list[ModelTarget]:
        """Return the versions whose responses reach clients: the primary and the canary."""
        return [self.primary] + ([self.canary] if self.canary is not None else [])

    def roles_of(self, uri: str) -> list[str]:
        """Return the roles that version ``uri`` has in this routing."""
        return [role for role, target in self.targets().items() if target.uri == uri]

    def promoted(self) -> Routing:
        """Return the routing after the canary becomes the primary with all traffic.

        Raises:
            ConfigError: There is no canary.
        """
        if self.canary is None:
            raise ConfigError(
                "the deployment has no canary to promote; add one with "
                "`tether deploy route NAME --canary URI`",
                setting="canary",
                value=None,
            )
        return replace(
            self, primary=self.canary, canary=None, traffic=0, sticky_header=None
        )

    def rolled_back(self, previous: ModelTarget) -> Routing:
        """Return the routing with ``previous`` as the primary and no canary."""
        shadow = (
            self.shadow
            if self.shadow is None or self.shadow.uri != previous.uri
            else None
        )
        return Routing(primary=previous, shadow=shadow)

    def to_dict(self) -> dict[str, Any]:
        """Return the routing as JSON-compatible values."""
        return {
            "primary": self.primary.to_dict(),
            "canary": self.canary.to_dict() if self.canary else None,
            "traffic": self.traffic,
            "sticky_header": self.sticky_header,
            "shadow": self.shadow.to_dict() if self.shadow else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Routing:
        """Build a routing from :meth:`to_dict` output."""
        canary = data.get("canary")
        shadow = data.get("shadow")
        return cls(
            primary=ModelTarget.from_dict(data["primary"]),
            canary=ModelTarget.from_dict(canary) if canary else None,
            traffic=int(data.get("traffic") or 0),
            sticky_header=data.get("sticky_header"),
            shadow=ModelTarget.from_dict(shadow) if shadow else None,
        )

    def describe(self) -> str:
        """Return a one-line summary, such as ``models:/m/1 90%, canary models:/m/2 10%``."""
        parts = [f"primary {self.primary.uri} {100 - self.traffic}%"]
        if self.canary is not None:
            sticky = f", sticky by {self.sticky_header}" if self.sticky_header else ""
            parts.append(f"canary {self.canary.uri} {self.traffic}%{sticky}")
        if self.shadow is not None:
            parts.append(f"shadow {self.shadow.uri}")
        return ", ".join(parts)


@dataclass(frozen=True)
class ApplicationTestSettings:
    """Settings of the application tests.

    Attributes:
        load_requests: Requests the load test sends.
        load_concurrency: Requests the load test keeps in flight at once.
        p99_ms: The load test fails when the 99th percentile latency, in
            milliseconds, is above this budget. The default is loose on
            purpose: it catches a stuck or pathological version, and a
            service sets its own objective with ``--p99-ms``.
        request_timeout_seconds: How long one test request may take.
    """

    load_requests: int = 100
    load_concurrency: int = 4
    p99_ms: float = 1000.0
    request_timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        _check_positive("--load-requests", self.load_requests)
        _check_positive("--load-concurrency", self.load_concurrency)
        _check_positive("--request-timeout", self.request_timeout_seconds)
        if self.p99_ms < 0:
            raise ConfigError(
                f"invalid --p99-ms {self.p99_ms:g}; use a budget of 0 or more milliseconds",
                setting="p99_ms",
                value=self.p99_ms,
            )


@dataclass(frozen=True)
class DeploymentSettings:
    """How a deployment's processes are run and its releases tested.

    Attributes:
        ready_timeout_seconds: How long a new model server may take to
            pass its readiness probe before the change that started it fails.
        stop_grace_seconds: How long a process may take to exit after
            SIGTERM before it gets SIGKILL.
    """

    tests: ApplicationTestSettings = field(default_factory=ApplicationTestSettings)
    ready_timeout_seconds: float = 120.0
    stop_grace_seconds: float = 10.0

    def __post_init__(self) -> None:
        _check_positive("--ready-timeout", self.ready_timeout_seconds)
        _check_positive("--grace", self.stop_grace_seconds)

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as JSON-compatible values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeploymentSettings:
        """Build settings from :meth:`to_dict` output."""
        return cls(
            tests=ApplicationTestSettings(**data.get("tests", {})),
            ready_timeout_seconds=float(data.get("ready_timeout_seconds", 120.0)),
            stop_grace_seconds=float(data.get("stop_grace_seconds", 10.0)),
        )


def check_traffic(traffic: int) -> None:
    """Raise :class:`ConfigError` unless ``traffic`` is a percentage from 0 to 100."""
    if (
        isinstance(traffic, bool)
        or not isinstance(traffic, int)
        or not 0 <= traffic <= 100
    ):
        raise ConfigError(
            f"invalid --traffic {traffic!r}; use a whole percentage from 0 to 100",
            setting="traffic",
            value=traffic,
        )


def check_name(name: str) -> None:
    """Raise :class:`ConfigError` unless ``name`` can name a deployment and its folder."""
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"invalid deployment name {name!r}; use 1 to 100 letters, digits, '.', "
            "'_' and '-', starting with a letter or digit",
            setting="name",
            value=name,
        )


def check_header_name(header: str) -> None:
    """Raise :class:`ConfigError` unless ``header`` is a valid HTTP header name."""
    if not _HEADER_NAME.fullmatch(header):
        raise ConfigError(
            f"invalid --sticky-header {header!r}; use an HTTP header name such as X-User",
            setting="sticky_header",
            value=header,
        )


def _check_positive(option: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(
            f"invalid {option} {value:g}; use a number above 0",
            setting=option,
            value=value,
        )

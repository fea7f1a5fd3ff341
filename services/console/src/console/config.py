"""The console's settings (env prefix ``CONSOLE_``; the token settings are the platform's)."""

from __future__ import annotations

from pydantic import Field

from servicekit.config import ServiceSettings, service_config


class Settings(ServiceSettings):
    """The console verifies the tokens its users log in with exactly as the services do
    (``JWT_*``, shared); it has no database and no broker of its own (the Kafka and MongoDB
    settings it inherits are unused)."""

    model_config = service_config("CONSOLE_")

    service_name: str = "console"
    port: int = 8010
    public_url: str = Field(default="http://127.0.0.1:8010", description="Where browsers reach the console: "
                            "the OIDC redirect URI is <public_url>/auth/callback.")
    oidc_client_id: str = Field(default="console", description="The console's client id at the identity provider "
                                "(a public client: authorization code with PKCE S256, no secret).")
    oidc_issuer_url: str = Field(default="", description="Where browsers and the console reach the identity "
                                 "provider's discovery document; empty: JWT_ISSUER.")
    registration_url: str = "http://127.0.0.1:8001"
    approvals_url: str = "http://127.0.0.1:8002"
    ratings_url: str = "http://127.0.0.1:8003"
    notifications_url: str = "http://127.0.0.1:8004"
    crossregion_url: str = "http://127.0.0.1:8005"
    backend_timeout_seconds: float = Field(default=5.0, gt=0, le=60, description="One call to a service.")
    session_hours: float = Field(default=8.0, gt=0, le=12, description="A login lasts this long at most (and never "
                                 "longer than its token).")
    max_sessions: int = Field(default=10_000, gt=0, description="Sessions kept in memory; the oldest go first.")
    cookie_secure: bool | None = Field(default=None, description="Cookies only over https; empty: when "
                                       "public_url is https.")
    sla_refresh_seconds: int = Field(default=30, ge=5, le=600, description="The SLA board reloads its tables.")
    ops_refresh_seconds: int = Field(default=30, ge=5, le=600, description="The operations page reloads its tables.")
    hall_rotate_seconds: int = Field(default=15, ge=5, le=120, description="A hall screen shows each slide this long.")
    hall_refresh_seconds: int = Field(default=60, ge=10, le=600, description="A hall screen reloads its data.")

    @property
    def issuer_url(self) -> str:
        return (self.oidc_issuer_url or self.jwt_issuer).rstrip("/")

    @property
    def redirect_uri(self) -> str:
        return self.public_url.rstrip("/") + "/auth/callback"

    @property
    def secure_cookies(self) -> bool:
        return self.cookie_secure if self.cookie_secure is not None else self.public_url.startswith("https://")

    def backend(self, service: str) -> str:
        return str(getattr(self, f"{service}_url")).rstrip("/")

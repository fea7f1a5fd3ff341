"""Settings of approvals: env prefix ``APPROVALS_``; the shared infrastructure variables unprefixed too."""

from servicekit.config import ServiceSettings, service_config


class Settings(ServiceSettings):
    model_config = service_config("APPROVALS_")

    service_name: str = "approvals"
    port: int = 8002

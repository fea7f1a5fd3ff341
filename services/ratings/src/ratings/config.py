"""Settings of ratings: env prefix ``RATINGS_``; the shared infrastructure variables unprefixed too."""

from servicekit.config import ServiceSettings, service_config


class Settings(ServiceSettings):
    model_config = service_config("RATINGS_")

    service_name: str = "ratings"
    port: int = 8003

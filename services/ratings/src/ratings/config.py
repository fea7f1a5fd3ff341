"""Ratings settings (env prefix ``RATINGS_``)."""

from servicekit.config import ServiceSettings, service_config


class Settings(ServiceSettings):
    model_config = service_config("RATINGS_")

    service_name: str = "ratings"
    port: int = 8003

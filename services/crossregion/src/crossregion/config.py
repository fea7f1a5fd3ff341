"""Settings of crossregion: env prefix ``CROSSREGION_``; the shared infrastructure variables unprefixed too."""

from servicekit.config import ServiceSettings, service_config


class Settings(ServiceSettings):
    model_config = service_config("CROSSREGION_")

    service_name: str = "crossregion"
    port: int = 8005

"""Registration settings (env prefix ``REGISTRATION_``)."""

from servicekit.config import ServiceSettings, service_config


class Settings(ServiceSettings):
    model_config = service_config("REGISTRATION_")

    service_name: str = "registration"
    port: int = 8001

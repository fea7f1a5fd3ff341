"""Notifications settings (env prefix ``NOTIFICATIONS_``)."""

from servicekit.config import ServiceSettings, service_config


class Settings(ServiceSettings):
    model_config = service_config("NOTIFICATIONS_")

    service_name: str = "notifications"
    port: int = 8004

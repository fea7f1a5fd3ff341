"""Registration settings (env prefix ``REGISTRATION_``)."""

from servicekit.config import ServiceSettings, service_config


class Settings(ServiceSettings):
    model_config = service_config("REGISTRATION_")

    service_name: str = "registration"
    port: int = 8001
    warning_before_hours: float = 4.0  # deadline warning this long before the time limit
    re_request_before_hours: float = 2.0  # unanswered steps asked again this long before the warning (0: never)
    at_risk_within_hours: float = 4.0  # "at risk" list horizon for helpers and supervisors

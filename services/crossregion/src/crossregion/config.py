"""Settings of crossregion: env prefix ``CROSSREGION_``; the shared infrastructure variables unprefixed too."""

from pydantic import Field

from servicekit.config import ServiceSettings, service_config

# Development only: a fixed key so that `make run` works out of the box (production: from a secret store).
DEV_KEY = "dev-1:nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAIh+sxo="


class Settings(ServiceSettings):
    model_config = service_config("CROSSREGION_")

    service_name: str = "crossregion"
    port: int = 8005
    region_code: str = Field(default="620300", description="Our administrative division code (GB/T 2260).")
    region_name: str = Field(default="金昌市", description="Our region's name, for people.")
    signing_keys: list[str] = Field(default=[DEV_KEY], description="Our Ed25519 signing keys, `key_id:base64 seed` "
                                    "(32 bytes); the first signs unless a region was given another. During a "
                                    "rotation list both.")
    exchange_max_age_seconds: float = Field(default=300.0, gt=0, le=3600, description="Longest validity of a "
                                            "signed request (created → expires) we accept and we send.")
    exchange_clock_skew_seconds: float = Field(default=30.0, ge=0, le=300)
    exchange_timeout_seconds: float = Field(default=10.0, gt=0)
    exchange_allow_http: bool = Field(default=False, description="Development only: partners' endpoints may be "
                                      "http (production: https). Local partners also need `outbound_allow`.")
    delivery_poll_seconds: float = 1.0
    delivery_backoff_base_seconds: float = 1.0
    delivery_backoff_cap_seconds: float = 300.0
    delivery_batch: int = 50
    delivery_retention_hours: float = Field(default=7 * 24.0, gt=0, description="Delivered exchanges are kept "
                                            "this long (for operators), then deleted.")

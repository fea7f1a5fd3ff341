"""Notifications settings (env prefix ``NOTIFICATIONS_``; lists and objects as JSON).

The provider defaults point at the local stand-ins of ``python -m devstack.gateways``
(HTTP gateway on 127.0.0.1:8090, SMTP on 127.0.0.1:8025). In production set e.g.::

    NOTIFICATIONS_SMS_PROVIDERS='[{"name":"sms-main","url":"https://sms.example/v1","api_key":"..."},
                                  {"name":"sms-backup","url":"https://sms2.example/v1","api_key":"..."}]'
"""

from pydantic import BaseModel, Field

from servicekit.config import ServiceSettings, service_config

LOCAL_GATEWAY = "http://127.0.0.1:8090"


class ProviderSpec(BaseModel):
    """One provider of a channel. ``url``: the HTTP base URL (SMS, push, WeChat) or
    ``smtp://host:port`` / ``smtps://host:port`` (email)."""

    name: str
    url: str
    api_key: str = ""
    username: str = ""  # SMTP login, if the relay needs one
    template_id: str = ""  # WeChat subscribe-message template


class Settings(ServiceSettings):
    model_config = service_config("NOTIFICATIONS_")

    service_name: str = "notifications"
    port: int = 8004

    # -- who hears what, when
    default_channels: list[str] = Field(default=["sms"], description="Channels for recipients without preferences.")
    default_quiet_hours: str = Field(default="22:00-08:00", description="Beijing time; 'off' for none.")
    template_versions: dict[str, int] = Field(default={}, description="Pin a template key to a version.")

    # -- message delivery
    sms_providers: list[ProviderSpec] = Field(default_factory=lambda: [
        ProviderSpec(name="sms-a", url=f"{LOCAL_GATEWAY}/sms-a"), ProviderSpec(name="sms-b", url=f"{LOCAL_GATEWAY}/sms-b")])
    push_providers: list[ProviderSpec] = Field(default_factory=lambda: [
        ProviderSpec(name="push-a", url=f"{LOCAL_GATEWAY}/push-a")])
    wechat_providers: list[ProviderSpec] = Field(default_factory=lambda: [
        ProviderSpec(name="wechat", url=f"{LOCAL_GATEWAY}/wechat", template_id="onewindow-progress")])
    email_providers: list[ProviderSpec] = Field(default_factory=lambda: [
        ProviderSpec(name="smtp-local", url="smtp://127.0.0.1:8025")])
    email_from: str = "一窗通办 <noreply@onewindow.local>"
    provider_timeout_seconds: float = 5.0
    delivery_max_attempts: int = 6
    delivery_backoff_base_seconds: float = 2.0
    delivery_backoff_cap_seconds: float = 300.0
    delivery_attempts_per_provider: int = 2
    delivery_claim_seconds: float = 60.0
    delivery_poll_seconds: float = 1.0
    consume_batch: int = Field(default=200, ge=1, le=1000, description="Events of one fetch handled in one "
                               "transaction.")
    order_hold_seconds: float = Field(default=5.0, gt=0, le=3600, description="How long a case event that "
                                      "arrived before a predecessor waits for it; then it is handled anyway and "
                                      "the gap recorded.")
    order_sweep_seconds: float = Field(default=1.0, gt=0, description="How often events whose hold ran out are "
                                       "looked for.")
    directory_cache_seconds: float = Field(default=5.0, ge=0, le=300, description="Subscriptions, agencies, "
                                           "contacts and staff groups read by the consumer are kept this long "
                                           "across fetches; this process's own writes drop them at once, another "
                                           "replica's are seen within this time (0: read in every fetch).")
    delivery_batch: int = 200
    delivery_concurrency: int = 16

    # -- partner agencies
    webhook_retry_schedule_seconds: list[float] = Field(
        default=[5, 300, 1800, 7200, 18000, 36000, 36000],
        description="Wait after each failed attempt (Standard Webhooks schedule, about 28 h in all).")
    webhook_jitter: float = 0.1
    webhook_max_retry_after_seconds: float = 86400
    webhook_timeout_seconds: float = 10.0
    webhook_claim_seconds: float = 60.0
    webhook_poll_seconds: float = 1.0
    webhook_batch: int = 200
    webhook_concurrency: int = 16
    webhook_allow_http: bool = Field(default=False, description="Allow http:// webhook URLs (development only; "
                                     "production: https only). Local receivers also need `outbound_allow`.")
    feed_settle_seconds: float = Field(default=1.0, description="The replay feed holds back entries this young.")

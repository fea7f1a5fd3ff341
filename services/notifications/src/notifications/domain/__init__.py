"""Notifications domain: templates, recipients and preferences, messages and their
delivery lifecycle, partner-agency subscriptions. Pure: no I/O."""

from notifications.domain.contacts import OFF, Channel, Contact, QuietHours
from notifications.domain.errors import (
    CaseUnknown,
    DomainError,
    InvalidRequest,
    InvalidTransition,
    NotFound,
    TemplateError,
    TemplateFieldMissing,
)
from notifications.domain.messages import (
    Claim,
    Message,
    MessageDeliveryFailed,
    MessageStatus,
    ProviderError,
    RetryPolicy,
    StatusChange,
    message_id_for,
)
from notifications.domain.partners import (
    SUBSCRIBABLE,
    Agency,
    AttemptRecord,
    Delivery,
    DeliveryStatus,
    FeedCursor,
    Outcome,
    Subscription,
    SubscriptionStatus,
    WebhookDeadLettered,
    WebhookPolicy,
    event_attributes,
    redact,
)
from notifications.domain.ordering import Gap, Parked, Sequencer
from notifications.domain.planning import NOTIFIED_EVENTS, CaseFile, Notice, Rules, Target, messages_for, notices_for
from notifications.domain.templates import Rendered, Template, TemplateCatalog, default_catalog

__all__ = [
    "NOTIFIED_EVENTS", "OFF", "SUBSCRIBABLE", "Agency", "AttemptRecord", "CaseFile", "CaseUnknown", "Channel",
    "Claim", "Contact", "Gap", "Parked", "Sequencer", "Delivery", "DeliveryStatus", "DomainError", "FeedCursor", "InvalidRequest",
    "InvalidTransition", "Message", "MessageDeliveryFailed", "MessageStatus", "NotFound", "Notice", "Outcome",
    "ProviderError", "QuietHours", "Rendered", "RetryPolicy", "Rules", "StatusChange", "Subscription",
    "SubscriptionStatus", "Target", "Template", "TemplateCatalog", "TemplateError", "TemplateFieldMissing",
    "WebhookDeadLettered", "WebhookPolicy", "default_catalog", "event_attributes", "message_id_for", "messages_for",
    "notices_for", "redact",
]

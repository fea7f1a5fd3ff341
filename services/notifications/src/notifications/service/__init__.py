"""Use cases: load → domain → save + events, keyword-only dependencies.

``inbound``: events in (messages accepted, directories updated, agencies' deliveries
fanned out), messages and preferences read and written. ``delivery``: messages out
through the providers. ``partners``: subscriptions, agencies, replay feed, webhooks."""

from notifications.service.delivery import deliver, dispatch_due_messages, save_message
from notifications.service.inbound import (
    CONSUMER,
    get_message,
    get_preferences,
    handle_event,
    inboxes,
    messages_for_case,
    messages_for_recipients,
    set_preferences,
)
from notifications.service.partners import (
    create_subscription,
    deliveries_of,
    dispatch_due_webhooks,
    get_agency,
    get_subscription,
    list_subscriptions,
    push,
    read_feed,
    set_agency,
    set_subscription_active,
)

__all__ = [
    "CONSUMER", "create_subscription", "deliver", "deliveries_of", "dispatch_due_messages", "dispatch_due_webhooks",
    "get_agency", "get_message", "get_preferences", "get_subscription", "handle_event", "inboxes",
    "list_subscriptions", "messages_for_case", "messages_for_recipients", "push", "read_feed", "save_message",
    "set_agency", "set_preferences", "set_subscription_active",
]

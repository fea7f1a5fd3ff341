"""Use cases, built once in bootstrap with keyword-only dependencies.

``Inbound``: events in (messages accepted, directories updated, agencies' deliveries
fanned out). ``Messages``: what people read and their preferences. ``MessageDispatch``
and ``WebhookDispatch``: one pass of each background dispatcher. ``Partners``:
subscriptions, agencies, the replay feed."""

from notifications.service.delivery import MessageDispatch
from notifications.service.events import EVENTS, SOURCE, structured
from notifications.service.inbound import CONSUMER, Directory, Inbound
from notifications.service.messages import Messages
from notifications.service.partners import Partners, WebhookDispatch

__all__ = ["CONSUMER", "EVENTS", "SOURCE", "Directory", "Inbound", "MessageDispatch", "Messages", "Partners", "WebhookDispatch",
           "structured"]

"""Use cases of the cross-region service, one class per concern, all through the kit's unit
of work: partner regions (operators), cases at the window, the exchange (inbound requests,
registration's events in, outbound delivery)."""

from crossregion.service.cases import Cases
from crossregion.service.delivery import Delivery
from crossregion.service.exchange import Inbound, Receipt
from crossregion.service.regions import Regions

__all__ = ["Cases", "Delivery", "Inbound", "Receipt", "Regions"]

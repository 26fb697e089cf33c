// Each client of a channel receives a message on one link: the one they most recently wrote from, else the
// most recently verified. Only verified links of active integrations and active clients count. The order, over
// client_platform_links `l`, shared by the outbox (which link a message goes to) and the customer-service
// window (whose window decides).
export const CHOSEN_LINK_ORDER = 'l.last_inbound_at DESC NULLS LAST, l.verified_at DESC NULLS LAST, l.id';

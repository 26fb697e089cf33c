// Bus topics. Per-organization topics keep fan-out scoped to the tenant; user and integration changes go to
// every instance because any of them may hold the user's cached session or the integration's webhook secrets.
// On a Redis Cluster a topic lives on the shard of its hash slot; the braces (a hash tag) make the organization
// alone decide the slot, so all of an organization's topics share one shard and organizations spread over them.
export const USER_CHANGES_TOPIC = 'users';
export const INTEGRATION_CHANGES_TOPIC = 'integrations';
export const organizationTopic = (organizationId: string) => `{org:${organizationId}}`;
/** An organization's access events alone, for caches that need them without its message traffic. */
export const organizationAccessTopic = (organizationId: string) => `{org:${organizationId}}:access`;

export interface UserChangedEvent {
  type: 'user.changed';
  organizationId: string;
  userId: string;
}

export interface IntegrationChangedEvent {
  type: 'integration.changed';
  integrationId: string;
}

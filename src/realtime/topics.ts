// Bus topics. Per-organization topics keep fan-out scoped to the tenant; user and integration changes go to
// every instance because any of them may hold the user's cached session or the integration's webhook secrets.
export const USER_CHANGES_TOPIC = 'users';
export const INTEGRATION_CHANGES_TOPIC = 'integrations';
export const organizationTopic = (organizationId: string) => `org:${organizationId}`;
/** An organization's access events alone, for caches that need them without its message traffic. */
export const organizationAccessTopic = (organizationId: string) => `org:${organizationId}:access`;

export interface UserChangedEvent {
  type: 'user.changed';
  organizationId: string;
  userId: string;
}

export interface IntegrationChangedEvent {
  type: 'integration.changed';
  integrationId: string;
}

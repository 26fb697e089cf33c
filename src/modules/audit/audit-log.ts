import type { Prisma, PrismaClient } from '../../generated/prisma/client.js';

/** What the audit log records; each name says what happened. */
export type AuditAction =
  | 'sign-in'
  | 'sign-in-failed'
  | 'sign-out'
  | 'sign-out-everywhere'
  | 'refresh-token-reused'
  | 'password-changed'
  | 'password-set'
  | 'password-reset-requested'
  | 'password-reset'
  | 'user-created'
  | 'single-sign-on-user-creation-changed'
  | 'user-invited'
  | 'invitation-accepted'
  | 'role-changed'
  | 'user-deactivated'
  | 'user-reactivated'
  | 'integration-created'
  | 'integration-updated'
  | 'integration-deactivated'
  | 'integration-secrets-replaced'
  | 'integration-secrets-resealed';

export interface AuditEntry {
  organizationId: string;
  action: AuditAction;
  /** Who did it; null for the operator CLI, or someone not signed in (a failed sign-in). */
  actorUserId?: string | null;
  /** The user it was done to, when it concerns one. */
  subjectUserId?: string | null;
  /** What changed (a role, the names of replaced secrets, an integration id): never a secret, token or password. */
  details?: Prisma.InputJsonObject;
  /** The client's address, when it came through the network. */
  address?: string | null;
}

/**
 * Appends to the audit log. Given a transaction, the entry commits with the change it records (or not at all);
 * given the client, it is written on its own (sign-ins, failures, sign-outs).
 */
export async function recordAudit(
  client: Pick<PrismaClient, 'auditEvent'> | Prisma.TransactionClient,
  ...entries: AuditEntry[]
): Promise<void> {
  if (entries.length === 0) return;
  await client.auditEvent.createMany({
    data: entries.map((entry) => ({
      organizationId: entry.organizationId,
      action: entry.action,
      actorUserId: entry.actorUserId ?? null,
      subjectUserId: entry.subjectUserId ?? null,
      details: entry.details ?? {},
      address: entry.address ?? null,
    })),
  });
}

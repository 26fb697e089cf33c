import type { UserRole } from '../generated/prisma/enums.js';
import { forbidden, unauthenticated } from '../lib/errors.js';

/** The authenticated user behind a request or a WebSocket connection. */
export interface Viewer {
  id: string;
  organizationId: string;
  role: UserRole;
  /** When the bearer token was issued (ms): a sign-out everywhere after it ends what it opened. */
  tokenIssuedAt?: number;
  /** The client's address (see client-address.ts), for the audit log. */
  clientAddress?: string;
}

/**
 * What a request may do. Built once per request (per connection on graphql-ws); every authorization check
 * goes through it and names the organization it concerns, so a check can never silently pass for a foreign
 * organization's row.
 */
export class Session {
  private constructor(
    private readonly current: Viewer | null,
    private readonly reason: string,
    /** The id of the request (or graphql-ws operation) acting, for the log lines of what it causes. */
    readonly requestId: string | undefined,
  ) {}

  static authenticated(viewer: Viewer, requestId?: string): Session {
    return new Session(viewer, '', requestId);
  }

  static anonymous(reason = 'Authentication required', requestId?: string): Session {
    return new Session(null, reason, requestId);
  }

  get isAuthenticated(): boolean {
    return this.current !== null;
  }

  /** Why there is no viewer (e.g. "Token expired"); undefined when authenticated. */
  get refusal(): string | undefined {
    return this.current ? undefined : this.reason;
  }

  /** The viewer, or UNAUTHENTICATED with the reason the token was refused. */
  get viewer(): Viewer {
    if (!this.current) throw unauthenticated(this.reason);
    return this.current;
  }

  get organizationId(): string {
    return this.viewer.organizationId;
  }

  /** The viewer, provided they belong to `organizationId`; another organization's rows do not exist for them. */
  assertMember(organizationId: string): Viewer {
    const viewer = this.viewer;
    if (viewer.organizationId !== organizationId) throw forbidden('Not a member of this organization');
    return viewer;
  }

  assertAdmin(organizationId: string): Viewer {
    const viewer = this.assertMember(organizationId);
    if (viewer.role !== 'ADMIN') throw forbidden('Only an organization admin may do this');
    return viewer;
  }

  /** Admins and staff users; clients are refused. */
  assertStaff(organizationId: string): Viewer {
    const viewer = this.assertMember(organizationId);
    if (viewer.role === 'CLIENT') throw forbidden('Clients may not do this');
    return viewer;
  }
}

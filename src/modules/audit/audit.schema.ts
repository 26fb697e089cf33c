import { builder } from '../../schema/builder.js';
import { assertCursorInList, idCursor, pageArgsSchema } from '../../schema/pagination.js';

builder.prismaObject('AuditEvent', {
  description: 'One entry of the audit log: who did what, when, from which address. Never a secret or a token.',
  fields: (t) => ({
    id: t.exposeID('id'),
    action: t.exposeString('action', {
      description:
        'sign-in, sign-in-failed, sign-out, sign-out-everywhere, refresh-token-reused, password-changed, ' +
        'password-set, password-reset-requested, password-reset, user-created, user-invited, invitation-accepted, ' +
        'role-changed, user-deactivated, user-reactivated, integration-created, integration-updated, ' +
        'integration-deactivated, integration-secrets-replaced, integration-secrets-resealed',
    }),
    actor: t.relation('actor', {
      nullable: true,
      description: 'Who did it (null: the operator CLI, or nobody signed in).',
    }),
    subjectUser: t.relation('subject', { nullable: true, description: 'The user it was done to.' }),
    details: t.expose('details', { type: 'JSON' }),
    address: t.exposeString('address', { nullable: true, description: "The client's address." }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryFields((t) => ({
  auditLog: t.prismaConnection(
    {
      type: 'AuditEvent',
      cursor: 'id',
      description: "The organization's audit log, newest first (admin).",
      validate: pageArgsSchema(idCursor).loose(),
      resolve: async (query, _root, args, context) => {
        const { organizationId } = context.session.assertAdmin(context.session.organizationId);
        const where = { organizationId };
        await assertCursorInList(args, query.cursor, (key) =>
          context.prisma.auditEvent.findFirst({ where: { AND: [where, key] }, select: { id: true } }),
        );
        return context.prisma.auditEvent.findMany({
          ...query,
          where,
          orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        });
      },
    },
    { name: 'AuditEventConnection' },
    { name: 'AuditEventEdge' },
  ),
}));

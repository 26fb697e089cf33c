import { UserRole } from '../../generated/prisma/enums.js';
import { displayName, email, httpsUrl, uuid } from '../../lib/validation.js';
import { builder } from '../../schema/builder.js';
import { assertCursorInList, idCursor, pageArgsSchema } from '../../schema/pagination.js';
import { forViewer } from '../../schema/viewer-values.js';

export const UserRoleEnum = builder.enumType(UserRole, { name: 'UserRole' });

export const UserType = builder.prismaObject('User', {
  fields: (t) => ({
    id: t.exposeID('id'),
    // Staff see colleagues' addresses; a client sees only their own.
    email: t.string({
      nullable: true,
      resolve: (user, _args, context, info) =>
        // Without a viewer the only user anyone reaches is the one they just signed in as (AuthPayload.user).
        context.session.isAuthenticated
          ? forViewer(context, info, (viewer) =>
              viewer.role !== 'CLIENT' || viewer.id === user.id ? user.email : null,
            )
          : user.email,
    }),
    displayName: t.exposeString('displayName'),
    avatarUrl: t.exposeString('avatarUrl', { nullable: true }),
    role: t.expose('role', { type: UserRoleEnum }),
    isActive: t.exposeBoolean('isActive'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.queryFields((t) => ({
  viewer: t.prismaField({
    type: 'User',
    description: 'The authenticated user.',
    resolve: (query, _root, _args, context) => context.services.users.viewer(context.session, query),
  }),
  users: t.prismaConnection(
    {
      type: 'User',
      cursor: 'id',
      description: "The organization's users by display name (admins and staff).",
      args: { role: t.arg({ type: UserRoleEnum }) },
      validate: pageArgsSchema(idCursor).loose(),
      resolve: async (query, _root, args, context) => {
        const where = context.services.users.listWhere(context.session, { role: args.role });
        await assertCursorInList(args, query.cursor, (key) =>
          context.prisma.user.findFirst({ where: { AND: [where, key] }, select: { id: true } }),
        );
        return context.prisma.user.findMany({ ...query, where, orderBy: [{ displayName: 'asc' }, { id: 'asc' }] });
      },
    },
    { name: 'UserConnection' },
    { name: 'UserEdge' },
  ),
}));

const CreateUserInput = builder.inputType('CreateUserInput', {
  fields: (t) => ({
    email: t.string({ required: true, validate: email }),
    displayName: t.string({ required: true, validate: displayName }),
    role: t.field({ type: UserRoleEnum, required: true }),
    avatarUrl: t.string({ validate: httpsUrl }),
  }),
});

const UpdateUserInput = builder.inputType('UpdateUserInput', {
  fields: (t) => ({
    id: t.id({ required: true, validate: uuid }),
    email: t.string({ validate: email }),
    displayName: t.string({ validate: displayName }),
    avatarUrl: t.string({ validate: httpsUrl.nullable() }),
    role: t.field({ type: UserRoleEnum }),
    isActive: t.boolean(),
  }),
});

builder.mutationFields((t) => ({
  createUser: t.prismaField({
    type: 'User',
    description: 'Adds a user to the organization (admin).',
    args: { input: t.arg({ type: CreateUserInput, required: true }) },
    resolve: (query, _root, { input }, context) => context.services.users.create(context.session, input, query),
  }),
  updateUser: t.prismaField({
    type: 'User',
    description: 'Changes a user (admin); anyone may change their own display name and avatar.',
    args: { input: t.arg({ type: UpdateUserInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      context.services.users.update(context.session, { ...input, id: String(input.id) }, query),
  }),
}));

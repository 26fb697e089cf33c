import { z } from 'zod';
import { displayName, email, uuid } from '../../lib/validation.js';
import { builder } from '../../schema/builder.js';
import { OrganizationType } from '../organizations/organizations.schema.js';
import { UserRoleEnum, UserType } from '../users/users.schema.js';
import type { Invitation } from './account-links.service.js';
import { PASSWORD_MAX_LENGTH } from './password-policy.js';
import type { AuthPayload } from './sessions.service.js';

const password = z.string().max(PASSWORD_MAX_LENGTH, { error: `must be at most ${PASSWORD_MAX_LENGTH} characters` });
const newPassword = z.string().max(4 * PASSWORD_MAX_LENGTH, { error: 'is too long' });
const refreshToken = z.string().max(200, { error: 'is not a refresh token' });
const linkToken = z.string().max(200, { error: 'is not a link token' });

const InvitationType = builder.objectRef<Invitation>('Invitation').implement({
  description: 'A single-use link that lets the invited person choose a password and sign in.',
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    role: t.expose('role', { type: UserRoleEnum }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    acceptUrl: t.exposeString('acceptUrl', {
      nullable: true,
      description: 'The link to hand over; null when it was e-mailed (SMTP_URL) to the invited address only.',
    }),
    emailed: t.exposeBoolean('emailed'),
  }),
});

const InviteUserInput = builder.inputType('InviteUserInput', {
  fields: (t) => ({
    email: t.string({ required: true, validate: email }),
    displayName: t.string({ required: true, validate: displayName }),
    role: t.field({ type: UserRoleEnum, required: true }),
  }),
});

const AcceptInvitationInput = builder.inputType('AcceptInvitationInput', {
  fields: (t) => ({
    token: t.string({ required: true, validate: linkToken }),
    password: t.string({ required: true, validate: newPassword }),
    displayName: t.string({ validate: displayName }),
  }),
});

const ResetPasswordInput = builder.inputType('ResetPasswordInput', {
  fields: (t) => ({
    token: t.string({ required: true, validate: linkToken }),
    newPassword: t.string({ required: true, validate: newPassword }),
  }),
});

export const AuthPayloadType = builder.objectRef<AuthPayload>('AuthPayload').implement({
  description: 'A signed-in session: a short-lived Bearer token and the refresh token that renews it.',
  fields: (t) => ({
    accessToken: t.exposeString('accessToken', {
      description: 'The Bearer JWT for `Authorization` and graphql-ws `connectionParams` (ACCESS_TOKEN_TTL).',
    }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'When the access token expires.' }),
    refreshToken: t.exposeString('refreshToken', {
      description: 'Single use: `refreshSession` spends it and returns a new one. Keep it secret.',
    }),
    refreshTokenExpiresAt: t.expose('refreshTokenExpiresAt', { type: 'DateTime' }),
    user: t.field({ type: UserType, resolve: (payload) => payload.user }),
  }),
});

const SignInInput = builder.inputType('SignInInput', {
  fields: (t) => ({
    email: t.string({ required: true, validate: email }),
    password: t.string({ required: true, validate: password }),
    organizationId: t.id({
      description: 'Needed only when the e-mail address belongs to users of several organizations.',
      validate: uuid,
    }),
  }),
});

const ChangePasswordInput = builder.inputType('ChangePasswordInput', {
  fields: (t) => ({
    currentPassword: t.string({ required: true, validate: password }),
    newPassword: t.string({ required: true, validate: newPassword }),
  }),
});

builder.objectField(OrganizationType, 'singleSignOnCreatesUsers', (t) =>
  t.exposeBoolean('ssoCreatesUsers', {
    description: 'Whether single sign-on creates a staff user for a verified e-mail address nobody has yet.',
  }),
);

builder.mutationFields((t) => ({
  setSingleSignOnUserCreation: t.prismaField({
    type: 'Organization',
    description:
      'Allows (or stops) single sign-on creating a staff user (role USER) for a verified e-mail address the ' +
      'organization does not know (admin). Off by default: unknown addresses are refused.',
    args: { allowed: t.arg.boolean({ required: true }) },
    resolve: (query, _root, args, context) =>
      context.services.accounts.setSingleSignOnUserCreation(context.session, args.allowed, query),
  }),
  signIn: t.field({
    type: AuthPayloadType,
    description:
      'Signs in staff and admins with e-mail and password. Any failure is UNAUTHENTICATED "Wrong e-mail or password"; ' +
      'repeated failures are RATE_LIMITED per account and per address.',
    args: { input: t.arg({ type: SignInInput, required: true }) },
    resolve: (_root, { input }, context) =>
      context.services.accounts.signIn(
        { ...input, organizationId: input.organizationId == null ? null : String(input.organizationId) },
        context.clientAddress,
      ),
  }),
  refreshSession: t.field({
    type: AuthPayloadType,
    description:
      'Spends a refresh token for a new access token and a new refresh token. A refresh token used twice ' +
      'revokes its whole session (it was copied).',
    args: { refreshToken: t.arg.string({ required: true, validate: refreshToken }) },
    resolve: (_root, args, context) => context.services.sessions.refresh(args.refreshToken, context.clientAddress),
  }),
  signOut: t.boolean({
    description: "Ends the refresh token's session. True whether or not it was still open.",
    args: { refreshToken: t.arg.string({ required: true, validate: refreshToken }) },
    resolve: async (_root, args, context) => {
      await context.services.sessions.signOut(args.refreshToken, context.clientAddress);
      return true;
    },
  }),
  signOutEverywhere: t.boolean({
    description:
      'Ends every session of the viewer and every access token issued to them so far; their open sockets close ' +
      'on every instance within a second.',
    resolve: async (_root, _args, context) => {
      await context.services.sessions.signOutEverywhere(context.session.viewer);
      return true;
    },
  }),
  inviteUser: t.field({
    type: InvitationType,
    description:
      'Invites a staff user or admin (admin): a single-use link, valid INVITATION_TTL, e-mailed with SMTP_URL. ' +
      'Inviting again replaces the previous link.',
    args: { input: t.arg({ type: InviteUserInput, required: true }) },
    resolve: (_root, { input }, context) => context.services.accountLinks.invite(context.session, input),
  }),
  acceptInvitation: t.field({
    type: AuthPayloadType,
    description: "Sets the invited user's password from the invitation link and signs them in.",
    args: { input: t.arg({ type: AcceptInvitationInput, required: true }) },
    resolve: (_root, { input }, context) =>
      context.services.accountLinks.acceptInvitation(input, context.clientAddress),
  }),
  requestPasswordReset: t.boolean({
    description:
      'E-mails a single-use password-reset link (PASSWORD_RESET_TTL) when the address has an account. Always ' +
      'true: the answer does not tell whether it has.',
    args: {
      email: t.arg.string({ required: true, validate: email }),
      organizationId: t.arg.id({ validate: uuid }),
    },
    resolve: async (_root, args, context) => {
      const organizationId = args.organizationId == null ? null : String(args.organizationId);
      await context.services.accountLinks.requestPasswordReset(args.email, organizationId, context.clientAddress);
      return true;
    },
  }),
  resetPassword: t.field({
    type: AuthPayloadType,
    description: 'Sets a new password from a reset link: every session of the user ends, and a new one begins.',
    args: { input: t.arg({ type: ResetPasswordInput, required: true }) },
    resolve: (_root, { input }, context) => context.services.accountLinks.resetPassword(input, context.clientAddress),
  }),
  changePassword: t.field({
    type: AuthPayloadType,
    description:
      "Changes the viewer's password (NIST SP 800-63B rules: a minimum length, no common or breached password). " +
      'Every other session ends; the new session comes back.',
    args: { input: t.arg({ type: ChangePasswordInput, required: true }) },
    resolve: (_root, { input }, context) =>
      context.services.accounts.changePassword(context.session, input, context.clientAddress),
  }),
}));

import { description, organizationName } from '../../lib/validation.js';
import { builder } from '../../schema/builder.js';

export const OrganizationType = builder.prismaObject('Organization', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const UpdateOrganizationInput = builder.inputType('UpdateOrganizationInput', {
  fields: (t) => ({
    name: t.string({ validate: organizationName }),
    description: t.string({ validate: description.nullable() }),
  }),
});

builder.queryField('organization', (t) =>
  t.prismaField({
    type: 'Organization',
    description: "The viewer's organization.",
    resolve: (query, _root, _args, context) => context.services.organizations.current(context.session, query),
  }),
);

builder.mutationField('updateOrganization', (t) =>
  t.prismaField({
    type: 'Organization',
    description: "Renames or re-describes the viewer's organization (admin).",
    args: { input: t.arg({ type: UpdateOrganizationInput, required: true }) },
    resolve: (query, _root, { input }, context) => context.services.organizations.update(context.session, input, query),
  }),
);

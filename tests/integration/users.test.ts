import { describe, expect, it } from '@jest/globals';
import { useFixture } from '../support/fixture.js';
import { seedOrganization } from '../support/seed.js';
import { graphql } from '../gql/index.js';
import { dataOf, errorCodes, gql } from '../support/graphql.js';

const Viewer = graphql(`
  query Viewer {
    viewer {
      id
      email
      displayName
      role
      isActive
    }
    organization {
      id
      name
    }
  }
`);

const Users = graphql(`
  query Users($role: UserRole, $first: Int, $after: String) {
    users(role: $role, first: $first, after: $after) {
      edges {
        cursor
        node {
          id
          displayName
          role
          email
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const CreateUser = graphql(`
  mutation CreateUser($input: CreateUserInput!) {
    createUser(input: $input) {
      id
      email
      displayName
      role
      isActive
    }
  }
`);

const UpdateUser = graphql(`
  mutation UpdateUser($input: UpdateUserInput!) {
    updateUser(input: $input) {
      id
      displayName
      role
      isActive
    }
  }
`);

const { server, org } = useFixture({ organization: { users: ['Alice', 'Bob'], clients: ['Carol'] } });

describe('viewer and organization', () => {
  it('returns the authenticated user and their organization', async () => {
    const data = dataOf(await gql(server().graphqlUrl, Viewer, {}, { token: org().users.Alice!.token }));
    expect(data.viewer).toEqual({
      id: org().users.Alice!.id,
      email: org().users.Alice!.email,
      displayName: 'Alice',
      role: 'USER',
      isActive: true,
    });
    expect(data.organization).toEqual({ id: org().id, name: org().name });
  });

  it('refuses a request without a token', async () => {
    const response = await gql(server().graphqlUrl, Viewer, {});
    expect(errorCodes(response)).toContain('UNAUTHENTICATED');
  });
});

describe('users', () => {
  it('lists the organization by display name, page by page, for staff', async () => {
    const first = dataOf(await gql(server().graphqlUrl, Users, { first: 2 }, { token: org().users.Bob!.token }));
    expect(first.users.edges.map((edge) => edge.node.displayName)).toEqual([org().admin.displayName, 'Alice']);
    expect(first.users.pageInfo.hasNextPage).toBe(true);
    const rest = dataOf(
      await gql(
        server().graphqlUrl,
        Users,
        { first: 10, after: first.users.pageInfo.endCursor },
        { token: org().users.Bob!.token },
      ),
    );
    expect(rest.users.edges.map((edge) => edge.node.displayName)).toEqual(['Bob', 'Carol']);
    expect(rest.users.pageInfo.hasNextPage).toBe(false);
  });

  it('filters by role', async () => {
    const data = dataOf(await gql(server().graphqlUrl, Users, { role: 'CLIENT' }, { token: org().admin.token }));
    expect(data.users.edges.map((edge) => edge.node.id)).toEqual([org().clients.Carol!.id]);
  });

  it('does not let clients browse the directory', async () => {
    const response = await gql(server().graphqlUrl, Users, {}, { token: org().clients.Carol!.token });
    expect(errorCodes(response)).toEqual(['FORBIDDEN']);
  });

  it('names the argument that is out of range or malformed', async () => {
    const tooMany = await gql(server().graphqlUrl, Users, { first: 1000 }, { token: org().admin.token });
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
    const badCursor = await gql(server().graphqlUrl, Users, { after: 'not-a-cursor' }, { token: org().admin.token });
    expect(badCursor.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  });
});

describe('createUser', () => {
  it('lets an admin add a user, with the email normalised', async () => {
    const data = dataOf(
      await gql(
        server().graphqlUrl,
        CreateUser,
        { input: { email: '  Dave.New@Example.TEST ', displayName: ' Dave ', role: 'USER' } },
        { token: org().admin.token },
      ),
    );
    expect(data.createUser).toMatchObject({
      email: 'dave.new@example.test',
      displayName: 'Dave',
      role: 'USER',
      isActive: true,
    });
  });

  it('refuses a duplicate email with CONFLICT', async () => {
    const response = await gql(
      server().graphqlUrl,
      CreateUser,
      { input: { email: org().users.Alice!.email, displayName: 'Again', role: 'USER' } },
      { token: org().admin.token },
    );
    expect(errorCodes(response)).toEqual(['CONFLICT']);
  });

  it('refuses non-admins with FORBIDDEN and bad input with the field named', async () => {
    const input = { email: 'someone@example.test', displayName: 'Someone', role: 'USER' as const };
    expect(
      errorCodes(await gql(server().graphqlUrl, CreateUser, { input }, { token: org().users.Alice!.token })),
    ).toEqual(['FORBIDDEN']);
    const badEmail = await gql(
      server().graphqlUrl,
      CreateUser,
      { input: { ...input, email: 'not-an-email' } },
      { token: org().admin.token },
    );
    expect(badEmail.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.email' });
    const blankName = await gql(
      server().graphqlUrl,
      CreateUser,
      { input: { ...input, displayName: '  ' } },
      { token: org().admin.token },
    );
    expect(blankName.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.displayName' });
  });
});

describe('updateUser', () => {
  it('lets users rename themselves but not change their role', async () => {
    const renamed = dataOf(
      await gql(
        server().graphqlUrl,
        UpdateUser,
        { input: { id: org().users.Bob!.id, displayName: 'Robert' } },
        { token: org().users.Bob!.token },
      ),
    );
    expect(renamed.updateUser.displayName).toBe('Robert');
    const promoted = await gql(
      server().graphqlUrl,
      UpdateUser,
      { input: { id: org().users.Bob!.id, role: 'ADMIN' } },
      { token: org().users.Bob!.token },
    );
    expect(errorCodes(promoted)).toEqual(['FORBIDDEN']);
  });

  it('deactivating a user locks them out at once', async () => {
    const seeded = await seedOrganization(server(), { users: ['Eve'] });
    const eve = seeded.users.Eve!;
    dataOf(await gql(server().graphqlUrl, Viewer, {}, { token: eve.token }));
    dataOf(
      await gql(
        server().graphqlUrl,
        UpdateUser,
        { input: { id: eve.id, isActive: false } },
        { token: seeded.admin.token },
      ),
    );
    // The change reaches every instance's session cache through the event bus.
    let codes: unknown[] = [];
    for (let attempt = 0; attempt < 50 && !codes.includes('UNAUTHENTICATED'); attempt++) {
      codes = errorCodes(await gql(server().graphqlUrl, Viewer, {}, { token: eve.token }));
      if (!codes.includes('UNAUTHENTICATED')) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(codes).toContain('UNAUTHENTICATED');
  });

  it('keeps at least one active admin', async () => {
    const seeded = await seedOrganization(server());
    const response = await gql(
      server().graphqlUrl,
      UpdateUser,
      { input: { id: seeded.admin.id, role: 'USER' } },
      { token: seeded.admin.token },
    );
    expect(errorCodes(response)).toEqual(['CONFLICT']);
  });

  it('answers NOT_FOUND for an unknown id and BAD_USER_INPUT for a malformed one', async () => {
    const unknown = await gql(
      server().graphqlUrl,
      UpdateUser,
      { input: { id: '00000000-0000-4000-8000-000000000000', displayName: 'X' } },
      { token: org().admin.token },
    );
    expect(errorCodes(unknown)).toEqual(['NOT_FOUND']);
    const malformed = await gql(
      server().graphqlUrl,
      UpdateUser,
      { input: { id: 'nope', displayName: 'X' } },
      { token: org().admin.token },
    );
    expect(malformed.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.id' });
  });
});

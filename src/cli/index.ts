// The operator CLI: `npm run cli -- <command> [options]`. It uses the same configuration, database and
// services as the server (DATABASE_URL, or the embedded PostgreSQL when unset).
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { signUserToken } from '../auth/tokens.js';
import { ConfigError, environmentWithDotEnv, loadConfig } from '../config.js';
import { createBackingServices } from '../backing-services.js';
import { prepareDatabase } from '../db/prepare.js';
import { AppError } from '../lib/errors.js';
import { displayName, email, organizationName, uuid } from '../lib/validation.js';
import { createLogger } from '../logger.js';
import { createServices } from '../services.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import { seedDemo } from './seed.js';

const USAGE = `Usage: npm run cli -- <command> [options]

  create-organization --name <name> --admin-email <email> [--admin-name <name>] [--description <text>]
      Creates an organization with its first admin and prints both ids.
  token --email <email> [--organization <id>] [--expires-in <duration, default 12h>]
      Prints a JWT for that user (HS256, signed with JWT_SECRET).
  invite --email <email> --name <display name> [--role USER|ADMIN, default USER] [--organization <id>]
      Invites a staff user or admin: prints the link that sets their password (or e-mails it with SMTP_URL).
  set-password --email <email> [--organization <id>] [--password <password>]
      Sets a user's password (a generated one, printed, unless --password is given: that one is visible in the
      process list). Ends every session of the user.
  seed
      Creates the demo organization (admin@example.com) with users, channels and messages, once, and prints the
      staff's passwords.
  reseal-secrets
      Re-encrypts every integration secret with ENCRYPTION_KEY (after a key change, with the old key listed in
      ENCRYPTION_PREVIOUS_KEYS); afterwards the old key may be removed.
`;

class UsageError extends Error {}

const optionsSchema = {
  'create-organization': z.object({
    name: organizationName,
    'admin-email': email,
    'admin-name': displayName.optional(),
    description: z.string().max(1000).optional(),
  }),
  token: z.object({
    email,
    organization: uuid.optional(),
    'expires-in': z
      .string()
      .regex(/^\d+\s*[smhdw]?$/, { error: 'must be like 30m, 12h or 7d' })
      .default('12h'),
  }),
  invite: z.object({
    email,
    name: displayName,
    role: z.enum(['USER', 'ADMIN'], { error: 'must be USER or ADMIN' }).default('USER'),
    organization: uuid.optional(),
  }),
  'set-password': z.object({ email, organization: uuid.optional(), password: z.string().optional() }),
  seed: z.object({}),
  'reseal-secrets': z.object({}),
} as const;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (!(command in optionsSchema)) throw new UsageError(`unknown command "${command}"`);
  const { values } = parseArgs({
    args: rest,
    strict: true,
    options: {
      name: { type: 'string' },
      'admin-email': { type: 'string' },
      'admin-name': { type: 'string' },
      description: { type: 'string' },
      email: { type: 'string' },
      organization: { type: 'string' },
      'expires-in': { type: 'string' },
      role: { type: 'string' },
      password: { type: 'string' },
    },
  });
  const parsed = optionsSchema[command as keyof typeof optionsSchema].safeParse(values);
  if (!parsed.success) {
    throw new UsageError(parsed.error.issues.map((issue) => `--${issue.path.join('.')}: ${issue.message}`).join('\n'));
  }

  // The server's configuration, read the same way (the environment over .env): its tokens work on the server.
  const environment = environmentWithDotEnv();
  const config = loadConfig(environment);
  const logger = createLogger({ level: environment.LOG_LEVEL ?? 'warn' });
  const { databaseUrl, embedded } = await prepareDatabase(config, logger);
  // The server's own backing services: with Redis configured, changes reach running servers (their session
  // caches, say) like any other change.
  const backing = createBackingServices({ ...config, databaseUrl, databasePoolSize: 2 }, logger);
  await backing.connect();
  const { db } = backing;
  const services = createServices(backing);
  try {
    switch (command) {
      case 'create-organization': {
        const options = parsed.data as z.infer<(typeof optionsSchema)['create-organization']>;
        const { organization, admin } = await services.organizations.createWithAdmin({
          name: options.name,
          description: options.description,
          admin: {
            email: options['admin-email'],
            displayName: options['admin-name'] ?? options['admin-email'].split('@')[0]!,
          },
        });
        console.log(
          JSON.stringify({ organizationId: organization.id, adminUserId: admin.id, adminEmail: admin.email }),
        );
        return 0;
      }
      case 'invite': {
        const options = parsed.data as z.infer<(typeof optionsSchema)['invite']>;
        const organizations = await db.prisma.organization.findMany({
          where: options.organization ? { id: options.organization } : {},
          select: { id: true },
          take: 2,
        });
        if (organizations.length === 0) throw new UsageError('no such organization');
        if (organizations.length > 1) throw new UsageError('there are several organizations; add --organization <id>');
        const invitation = await services.accountLinks.inviteInto(organizations[0]!.id, null, {
          email: options.email,
          displayName: options.name,
          role: options.role,
        });
        console.log(
          invitation.acceptUrl
            ? `Invitation for ${invitation.email} (valid until ${invitation.expiresAt.toISOString()}): ${invitation.acceptUrl}`
            : `Invitation e-mailed to ${invitation.email} (valid until ${invitation.expiresAt.toISOString()})`,
        );
        return 0;
      }
      case 'set-password': {
        const options = parsed.data as z.infer<(typeof optionsSchema)['set-password']>;
        const user = await findUser(db.prisma, options.email, options.organization);
        const password = options.password ?? generatedPassword();
        await services.accounts.setPassword(user, password);
        console.log(options.password ? `Password set for ${user.email}` : `Password for ${user.email}: ${password}`);
        return 0;
      }
      case 'token': {
        const options = parsed.data as z.infer<(typeof optionsSchema)['token']>;
        const user = await findUser(db.prisma, options.email, options.organization);
        if (!user.isActive) throw new UsageError(`${options.email} is deactivated`);
        if (!config.jwt.secret)
          throw new UsageError('JWT_SECRET is not set: tokens come from the identity provider (JWT_JWKS_URL)');
        console.log(await signUserToken(config.jwt, user.id, options['expires-in'].replace(/\s+/g, '')));
        return 0;
      }
      case 'seed': {
        const result = await seedDemo(services, db.prisma, generatedPassword);
        if (!result.created) {
          console.log(
            `Demo organization already exists. Set a password with: npm run cli -- set-password --email ${result.adminEmail}`,
          );
          return 0;
        }
        console.log('Demo organization created. Sign in (signIn in GraphiQL) as:');
        for (const { email: address, role, password } of result.passwords)
          console.log(`  ${role.padEnd(5)}  ${address.padEnd(18)}  ${password}`);
        return 0;
      }
      case 'reseal-secrets': {
        const { resealed, unreadable } = await services.integrations.resealAll();
        console.log(JSON.stringify({ resealed, unreadable }));
        if (unreadable.length > 0) {
          console.error(`${unreadable.length} integration(s) were sealed with a key that is not configured`);
          return 1;
        }
        return 0;
      }
    }
    return 2;
  } finally {
    await services.stop();
    await backing.close();
    await embedded?.stop();
  }
}

/** The one user with this e-mail address (in the organization, when given). */
async function findUser(prisma: PrismaClient, address: string, organizationId: string | undefined) {
  const users = await prisma.user.findMany({
    where: { email: address, ...(organizationId ? { organizationId } : {}) },
    select: { id: true, email: true, isActive: true, organizationId: true },
  });
  if (users.length === 0) throw new UsageError(`no user with email ${address}`);
  if (users.length > 1) {
    throw new UsageError(
      `${address} exists in several organizations; add --organization <id>: ${users.map((u) => u.organizationId).join(', ')}`,
    );
  }
  return users[0]!;
}

/** A password of 18 random characters (about 108 bits), easy to copy: letters, digits, - and _. */
const generatedPassword = () => randomBytes(14).toString('base64url').slice(0, 18);

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError)
      error.problems.forEach((problem) => console.error(`configuration error: ${problem}`));
    else if (error instanceof AppError) console.error(`error: ${error.message}`);
    else if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`error: ${(error as Error).message}\n\n${USAGE}`);
    } else console.error(error);
    process.exit(1);
  },
);

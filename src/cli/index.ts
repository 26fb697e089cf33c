// The operator CLI: `npm run cli -- <command> [options]`. It uses the same configuration, database and
// services as the server (DATABASE_URL, or the embedded PostgreSQL when unset).
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { signUserToken } from '../auth/tokens.js';
import { ConfigError, environmentWithDotEnv, loadConfig } from '../config.js';
import { createBackingServices } from '../backing-services.js';
import { prepareDatabase } from '../db/prepare.js';
import { displayName, email, organizationName, uuid } from '../lib/validation.js';
import { createLogger } from '../logger.js';
import { createServices } from '../services.js';
import { seedDemo } from './seed.js';

const USAGE = `Usage: npm run cli -- <command> [options]

  create-organization --name <name> --admin-email <email> [--admin-name <name>] [--description <text>]
      Creates an organization with its first admin and prints both ids.
  token --email <email> [--organization <id>] [--expires-in <duration, default 12h>]
      Prints a JWT for that user (HS256, signed with JWT_SECRET).
  seed
      Creates the demo organization (admin@example.com) with users, channels and messages, once.
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
      case 'token': {
        const options = parsed.data as z.infer<(typeof optionsSchema)['token']>;
        const users = await db.prisma.user.findMany({
          where: { email: options.email, ...(options.organization ? { organizationId: options.organization } : {}) },
          select: { id: true, isActive: true, organizationId: true },
        });
        if (users.length === 0) throw new UsageError(`no user with email ${options.email}`);
        if (users.length > 1) {
          throw new UsageError(
            `${options.email} exists in several organizations; add --organization <id>: ${users.map((u) => u.organizationId).join(', ')}`,
          );
        }
        if (!users[0]!.isActive) throw new UsageError(`${options.email} is deactivated`);
        if (!config.jwt.secret)
          throw new UsageError('JWT_SECRET is not set: tokens come from the identity provider (JWT_JWKS_URL)');
        console.log(await signUserToken(config.jwt, users[0]!.id, options['expires-in'].replace(/\s+/g, '')));
        return 0;
      }
      case 'seed': {
        const result = await seedDemo(services, db.prisma);
        console.log(
          result.created
            ? `Demo organization created. Get a token with: npm run cli -- token --email ${result.adminEmail}`
            : `Demo organization already exists. Get a token with: npm run cli -- token --email ${result.adminEmail}`,
        );
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError)
      error.problems.forEach((problem) => console.error(`configuration error: ${problem}`));
    else if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`error: ${(error as Error).message}\n\n${USAGE}`);
    } else console.error(error);
    process.exit(1);
  },
);

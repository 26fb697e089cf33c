import { z } from 'zod';

// Input rules shared by the GraphQL inputs, the operator CLI and the services, so every entry point accepts
// and refuses the same values.

export const uuid = z.uuid({ error: 'must be a UUID' });

export const email = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.email({ error: 'must be an email address' }).max(254, { error: 'must be at most 254 characters' }));

export const displayName = z
  .string()
  .trim()
  .min(1, { error: 'must not be empty' })
  .max(100, { error: 'must be at most 100 characters' });

export const httpsUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .max(2048, { error: 'must be at most 2048 characters' });

export const organizationName = z
  .string()
  .trim()
  .min(1, { error: 'must not be empty' })
  .max(100, { error: 'must be at most 100 characters' });

export const description = z.string().trim().max(1000, { error: 'must be at most 1000 characters' });

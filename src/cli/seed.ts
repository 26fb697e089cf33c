import type { PrismaClient } from '../generated/prisma/client.js';
import { Session } from '../auth/session.js';
import type { Services } from '../services.js';

export const DEMO_ADMIN_EMAIL = 'admin@example.com';

/**
 * The demo organization GraphiQL shows on a first start: staff, a client in a support channel, public and
 * private channels, a direct conversation, a thread and reactions. Running it again changes nothing.
 */
export async function seedDemo(
  services: Services,
  prisma: PrismaClient,
  newPassword: () => string,
): Promise<{
  created: boolean;
  adminEmail: string;
  /** The staff's passwords, generated for this demo (clients never sign in). */
  passwords: { email: string; role: string; password: string }[];
}> {
  const existing = await prisma.user.findFirst({ where: { email: DEMO_ADMIN_EMAIL } });
  if (existing) return { created: false, adminEmail: DEMO_ADMIN_EMAIL, passwords: [] };

  const { organization, admin } = await services.organizations.createWithAdmin({
    name: 'Acme Support',
    description: 'Demo organization',
    admin: { email: DEMO_ADMIN_EMAIL, displayName: 'Ada Admin' },
  });
  const sessionOf = (user: { id: string; role: 'ADMIN' | 'USER' | 'CLIENT' }) =>
    Session.authenticated({ id: user.id, organizationId: organization.id, role: user.role });
  const asAdmin = sessionOf({ id: admin.id, role: 'ADMIN' });
  const sam = await services.users.create(asAdmin, {
    email: 'sam@example.com',
    displayName: 'Sam Staff',
    role: 'USER',
  });
  const sky = await services.users.create(asAdmin, {
    email: 'sky@example.com',
    displayName: 'Sky Staff',
    role: 'USER',
  });
  const cora = await services.users.create(asAdmin, {
    email: 'cora@example.com',
    displayName: 'Cora Client',
    role: 'CLIENT',
  });
  const [asSam, asSky, asCora] = [sessionOf(sam), sessionOf(sky), sessionOf(cora)];

  const general = await services.channels.create(asAdmin, {
    name: 'general',
    description: 'Everyone, everything',
    channelType: 'PUBLIC',
    memberIds: [sam.id, sky.id],
  });
  const welcome = await services.sendMessage.execute(asAdmin, {
    channelId: general.id,
    content: 'Welcome to Acme Support 👋',
  });
  await services.sendMessage.execute(asSam, {
    channelId: general.id,
    content: 'Glad to be here!',
    threadId: welcome.id,
  });
  await services.sendMessage.execute(asSky, { channelId: general.id, content: 'Same here.', threadId: welcome.id });
  await services.reactions.add(asSam, { messageId: welcome.id, emoji: '🎉' });
  await services.reactions.add(asSky, { messageId: welcome.id, emoji: '🎉' });

  const leads = await services.channels.create(asAdmin, {
    name: 'team-leads',
    channelType: 'PRIVATE',
    memberIds: [sam.id],
  });
  await services.sendMessage.execute(asAdmin, {
    channelId: leads.id,
    content: 'Roster for next week is in the drive.',
  });

  const support = await services.channels.create(asAdmin, {
    name: 'support-cora',
    description: "Cora's support conversation",
    channelType: 'PRIVATE',
    memberIds: [sam.id],
  });
  await services.clientAssignments.assign(asAdmin, { clientUserId: cora.id, channelId: support.id });
  await services.sendMessage.execute(asCora, { channelId: support.id, content: 'Hi, my order has not arrived yet.' });
  await services.sendMessage.execute(asSam, {
    channelId: support.id,
    content: 'Sorry about that, Cora! Let me check.',
  });

  const direct = await services.channels.openDirect(asSam, sky.id);
  await services.sendMessage.execute(asSam, { channelId: direct.id, content: 'Lunch at noon?' });
  await services.sendMessage.execute(asSky, { channelId: direct.id, content: 'Sure 🍜' });

  const passwords = [];
  for (const user of [admin, sam, sky]) {
    const password = newPassword();
    await services.accounts.setPassword({ ...user, organizationId: organization.id }, password);
    passwords.push({ email: user.email, role: user.role, password });
  }
  return { created: true, adminEmail: DEMO_ADMIN_EMAIL, passwords };
}

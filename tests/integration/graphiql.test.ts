import { existsSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { chromium } from 'playwright-core';
import { useFixture } from '../support/fixture.js';
import { waitFor } from '../support/webhooks.js';

// GraphiQL in a real headless Chromium (Debian's), every request to another host refused: the page must load its
// scripts and styles from this server and run a query. CI installs chromium (.ci/run); elsewhere the test is
// skipped, saying why, when it is missing.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (!available && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: CI must install chromium`);
if (!available) console.warn(`graphiql.test.ts skipped: ${CHROMIUM} is missing (apt-get install chromium)`);

const fixture = useFixture();

describe('GraphiQL', () => {
  (available ? it : it.skip)(
    'works offline: served entirely by the server, it runs a query in a headless browser',
    async () => {
      const server = fixture.server();
      const admin = fixture.org().admin;
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      try {
        const context = await browser.newContext({ extraHTTPHeaders: { authorization: `Bearer ${admin.token}` } });
        const elsewhere: string[] = [];
        const ours = new URL(server.url).host;
        await context.route('**/*', (route) => {
          const url = new URL(route.request().url());
          if (url.host === ours) return route.continue();
          elsewhere.push(url.href);
          return route.abort();
        });
        const page = await context.newPage();
        const pageErrors: string[] = [];
        page.on('pageerror', (error) => pageErrors.push(error.message));
        const query = '{ viewer { id email } }';
        await page.goto(`${server.graphqlUrl}?query=${encodeURIComponent(query)}`);
        await page.locator('.graphiql-execute-button').click({ timeout: 30_000 });
        const response = await waitFor(
          async () => {
            const text = await page.locator('.graphiql-response').innerText();
            return text.includes(admin.email) ? text : null;
          },
          30_000,
          "the query's result in GraphiQL",
        );
        expect(response).toContain(admin.id);
        expect(elsewhere).toEqual([]);
        expect(pageErrors).toEqual([]);
      } finally {
        await browser.close();
      }
    },
    90_000,
  );
});

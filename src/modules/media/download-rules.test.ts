import { describe, expect, it } from '@jest/globals';
import { requestedRange } from './media.routes.js';
import { hostAllowed } from './platform-media.js';

describe('MEDIA_DOWNLOAD_HOSTS matching', () => {
  const allowed = ['lookaside.fbsbx.com', '*.fbcdn.net'];
  const allows = (url: string) => hostAllowed(new URL(url), allowed);

  it('allows the hosts listed, and every subdomain of a *.domain', () => {
    expect(allows('https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1')).toBe(true);
    expect(allows('https://scontent.xx.fbcdn.net/v/t1.png')).toBe(true);
    expect(allows('https://SCONTENT.FBCDN.NET/a')).toBe(true);
  });

  it('refuses look-alikes, the bare domain of a wildcard, other schemes and addresses', () => {
    expect(allows('https://evilfbcdn.net/a')).toBe(false);
    expect(allows('https://fbcdn.net/a')).toBe(false);
    expect(allows('https://fbcdn.net.evil.com/a')).toBe(false);
    expect(allows('https://lookaside.fbsbx.com.evil.com/a')).toBe(false);
    expect(allows('https://x.lookaside.fbsbx.com/a')).toBe(false);
    expect(allows('file:///etc/passwd')).toBe(false);
    expect(allows('http://127.0.0.1/a')).toBe(false);
    expect(allows('http://[::1]/a')).toBe(false);
  });
});

describe('Range', () => {
  it('reads one range of bytes: start-end, start-, -suffix', () => {
    expect(requestedRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 });
    expect(requestedRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 });
    expect(requestedRange('bytes=95-200', 100)).toEqual({ start: 95, end: 99 });
    expect(requestedRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 });
    expect(requestedRange('bytes=-500', 100)).toEqual({ start: 0, end: 99 });
  });

  it('serves the whole file for no range, several ranges or another unit; past the end is unsatisfiable', () => {
    expect(requestedRange(undefined, 100)).toBeUndefined();
    expect(requestedRange('bytes=0-1,5-6', 100)).toBeUndefined();
    expect(requestedRange('items=0-1', 100)).toBeUndefined();
    expect(requestedRange('bytes=-', 100)).toBeUndefined();
    expect(requestedRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(requestedRange('bytes=5-2', 100)).toBe('unsatisfiable');
    expect(requestedRange('bytes=-0', 100)).toBe('unsatisfiable');
  });
});

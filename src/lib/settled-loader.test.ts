import { describe, expect, it } from '@jest/globals';
import { mapMaybe, SettledLoader } from './settled-loader.js';

describe('SettledLoader', () => {
  it('batches the first loads, then answers synchronously', async () => {
    const batches: string[][] = [];
    const loader = new SettledLoader<string, string>(async (keys) => {
      batches.push([...keys]);
      return keys.map((key) => key.toUpperCase());
    });
    const first = [loader.get('a'), loader.get('b'), loader.get('a')];
    expect(first.every((value) => value instanceof Promise)).toBe(true);
    expect(await Promise.all(first)).toEqual(['A', 'B', 'A']);
    expect(batches).toEqual([['a', 'b']]);
    expect(loader.get('b')).toBe('B');
  });

  it('answers primed keys and keys its cache knows without loading', () => {
    const loader = new SettledLoader<string, number | null>(
      () => Promise.reject(new Error('not expected to load')),
      (key) => (key === 'cached' ? 7 : undefined),
    );
    loader.prime('primed', null);
    expect(loader.get('primed')).toBeNull();
    expect(loader.get('cached')).toBe(7);
  });

  it('leaves a failed load to the caller, and loads again next time', async () => {
    let calls = 0;
    const loader = new SettledLoader<string, string>(async (keys) => {
      calls += 1;
      if (calls === 1) throw new Error('database unavailable');
      return [...keys];
    });
    await expect(loader.get('x')).rejects.toThrow('database unavailable');
    expect(await loader.get('x')).toBe('x');
    expect(calls).toBe(2);
  });
});

describe('mapMaybe', () => {
  it('maps a value at once, and a promise once it settles', async () => {
    expect(mapMaybe(7, (value) => value + 1)).toBe(8);
    expect(await mapMaybe(Promise.resolve(7), (value) => value + 1)).toBe(8);
  });
});

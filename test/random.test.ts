import { randomIdBytes } from '../src/random';

describe('randomIdBytes (the buffered CSPRNG for identifiers)', () => {
  test('hands out distinct values of the asked length across pool refills, never zeroed and never aliased', () => {
    const seen = new Set<string>();
    const first = randomIdBytes(16);
    const copy = Buffer.from(first);
    for (let i = 0; i < 2000; i++) {
      const b = randomIdBytes(16 + (i % 5));
      expect(b).toHaveLength(16 + (i % 5));
      expect(b.equals(Buffer.alloc(b.length))).toBe(false);
      const hex = b.toString('hex');
      expect(seen.has(hex)).toBe(false);
      seen.add(hex);
    }
    // 2000 draws went through several 4 KiB refills: what was handed out earlier did not change.
    expect(first.equals(copy)).toBe(true);
  });

  test('refuses sizes meant for key material', () => {
    expect(() => randomIdBytes(257)).toThrow(RangeError);
  });
});

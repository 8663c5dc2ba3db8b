/**
 * mulberry32: a small seeded generator, so a failing fuzz or crash run can be replayed from its
 * seed. A few lines, where a dependency would be for the tests alone.
 */
export function seededRandom(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(list: readonly T[]) => list[int(list.length)]! };
}

export type SeededRandom = ReturnType<typeof seededRandom>;

import { useCallback, useEffect, useRef, useState } from 'react';

/**
 * Whether the list is flinging past faster than `threshold` px/s. While it is, cards show their
 * placeholders and start no downloads: decoding dozens of thumbnails that are on screen for a
 * few frames is what would make the scrolling stutter. A moment after the scrolling slows or
 * stops, the cards on screen load their thumbnails.
 *
 * Returns the flag and a function to feed scroll offsets to (the virtualiser already reads the
 * offset on every scroll; reading it again in a listener of our own would force extra layouts).
 */
export function useFastScroll(threshold = 2500, settleMs = 120): [boolean, (offset: number) => void] {
  const [fast, setFast] = useState(false);
  const state = useRef({ offset: 0, at: 0, speed: 0, settle: undefined as ReturnType<typeof setTimeout> | undefined });

  const onOffset = useCallback(
    (offset: number) => {
      const s = state.current;
      const now = performance.now();
      const dt = now - s.at;
      if (s.at > 0 && dt > 0 && dt < 500) s.speed = 0.6 * s.speed + 0.4 * ((Math.abs(offset - s.offset) / dt) * 1000);
      s.offset = offset;
      s.at = now;
      setFast(s.speed > threshold);
      clearTimeout(s.settle);
      s.settle = setTimeout(() => {
        s.speed = 0;
        setFast(false);
      }, settleMs);
    },
    [threshold, settleMs],
  );
  useEffect(() => () => clearTimeout(state.current.settle), []);
  return [fast, onOffset];
}

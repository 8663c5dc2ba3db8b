import { useEffect, useState } from 'react';

const COUNT = 8;

/** The chart palette of the current theme (SVG attributes cannot use CSS variables reliably). */
export function useChartColors(): string[] {
  const read = () => {
    const style = getComputedStyle(document.documentElement);
    return Array.from({ length: COUNT }, (_, i) => style.getPropertyValue(`--chart-${i + 1}`).trim() || '#888');
  };
  const [colors, setColors] = useState<string[]>(read);
  useEffect(() => {
    const media = window.matchMedia('(prefers-color-scheme: dark)');
    const update = () => setColors(read());
    media.addEventListener('change', update);
    return () => media.removeEventListener('change', update);
  }, []);
  return colors;
}

export function useThemeTokens(): { grid: string; text: string; surface: string; border: string } {
  const read = () => {
    const style = getComputedStyle(document.documentElement);
    const v = (name: string) => style.getPropertyValue(name).trim();
    return { grid: v('--border'), text: v('--text-muted'), surface: v('--surface'), border: v('--border-strong') };
  };
  const [tokens, setTokens] = useState(read);
  useEffect(() => {
    const media = window.matchMedia('(prefers-color-scheme: dark)');
    const update = () => setTokens(read());
    media.addEventListener('change', update);
    return () => media.removeEventListener('change', update);
  }, []);
  return tokens;
}

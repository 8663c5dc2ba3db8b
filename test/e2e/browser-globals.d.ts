/**
 * The browser globals the end-to-end tests touch inside page.evaluate(). The test project is
 * type-checked against Node's types (the DOM library would clash with them), so these few are
 * declared loosely here; the code using them runs in Chromium, not in Node.
 */
declare const window: any;
declare const document: any;
declare const DataTransfer: any;
declare const DragEvent: any;
declare const performance: any;
declare const requestAnimationFrame: (callback: (time: number) => void) => number;
declare const PerformanceObserver: any;
type HTMLInputElement = any;
type HTMLImageElement = any;
type Element = any;
declare const navigator: any;

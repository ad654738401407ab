import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';

/** axe-core's WCAG 2.0/2.1/2.2 A and AA rules (what UNE-EN 301 549 and the WCAG 2.2 AA aim ask for). */
export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'];

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface A11yFinding {
  rule: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * Run axe-core on the page as it is now. Our pages' CSP admits only their own nonce'd script: create
 * the browser context with `bypassCSP: true` so that axe can be injected.
 */
export async function axeViolations(page: Page): Promise<A11yFinding[]> {
  await page.addScriptTag({ content: AXE_SOURCE });
  const result = await page.evaluate(async (tags) => {
    const axe = (window as unknown as { axe: { run(ctx: Document, opts: unknown): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: string[] }> }> }> } }).axe;
    return axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
  }, WCAG_TAGS);
  return result.violations.map((v) => ({ rule: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
}

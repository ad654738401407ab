import express, { type Router } from 'express';
import type { LoaPolicy } from '../broker/policy';
import type { MethodId } from '../saml/types';
import { pageContext, setCsp } from './context';
import { html, type Raw } from './html';
import type { Lang } from './i18n';
import { INFO_PAGES, INFO_TEXT, type InfoPage, type Prose } from './info-text';
import { layout } from './views';

/**
 * The information pages the Cl@ve seeds describe, linked from the footer of every page: what
 * the service is and which method reaches which level (from the configured LoA policy, so it
 * is never out of date), terms of use, technical requirements, cookies (only the strictly
 * necessary ones, named), and the accessibility statement. Texts: web/info-text.ts.
 */

function prose(items: Prose['body']): Raw[] {
  return items.map((b) =>
    typeof b === 'string' ? html`<p>${b}</p>` : 'h2' in b ? html`<h2>${b.h2}</h2>` : html`<ul>${b.list.map((li) => html`<li>${li}</li>`)}</ul>`,
  );
}

function levelsTable(lang: Lang, policy: LoaPolicy, methods: readonly MethodId[]): Raw {
  const t = INFO_TEXT[lang];
  const rows = Object.entries(policy).filter(([variant]) => methods.includes(variant.split('.')[0] as MethodId));
  const cell = (v: string | null | undefined) => (v ? t.levels[v] ?? v : t.none);
  // A data table may scroll on its own at 320 px (WCAG 1.4.10); the region takes keyboard focus so it can be scrolled without a mouse.
  return html`<div class="table-scroll" role="region" aria-label="${t.caption}" tabindex="0"><table class="levels"><caption>${t.caption}</caption>
<thead><tr>${t.tableHead.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead>
<tbody>${rows.map(
    ([variant, levels]) =>
      html`<tr><th scope="row">${t.methods[variant] ?? variant}</th><td>${cell(levels.basic)}</td><td>${cell(levels.advanced)}</td><td>${cell(levels.none)}</td></tr>`,
  )}</tbody></table></div>`;
}

export function infoRouter(deps: { loaPolicy: LoaPolicy; methods: readonly MethodId[] }): Router {
  const router = express.Router();
  router.get('/info', (_req, res) => res.redirect(302, '/info/about'));
  router.get('/info/:page', (req, res, next) => {
    const page = req.params.page as InfoPage;
    if (!INFO_PAGES.includes(page)) return next();
    const ctx = pageContext(req, res);
    const text = INFO_TEXT[ctx.lang][page];
    setCsp(res);
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res
      .status(200)
      .type('html')
      .send(layout(ctx, text.title, html`<h1>${text.title}</h1>${prose(text.body)}${page === 'about' ? levelsTable(ctx.lang, deps.loaPolicy, deps.methods) : ''}`));
  });
  return router;
}

import { escapeHtml, html, raw } from '../../src/web/html';

describe('escapeHtml', () => {
  it.each([
    ['&', '&amp;'],
    ['<', '&lt;'],
    ['>', '&gt;'],
    ['"', '&quot;'],
    ["'", '&#39;'],
  ])('escapes %s wherever it is, alone or among others', (c, escaped) => {
    expect(escapeHtml(c)).toBe(escaped);
    expect(escapeHtml(`a${c}b${c}`)).toBe(`a${escaped}b${escaped}`);
    // A long value with the special character only at its end (the fast path must not miss it).
    expect(escapeHtml(`${'QUJD'.repeat(4000)}${c}`)).toBe(`${'QUJD'.repeat(4000)}${escaped}`);
  });

  it('returns a value without special characters unchanged (base64, text, empty)', () => {
    const b64 = Buffer.alloc(10_000, 0xfb).toString('base64');
    expect(b64).toMatch(/[+/=]/);
    expect(escapeHtml(b64)).toBe(b64);
    expect(escapeHtml('Español · ñ')).toBe('Español · ñ');
    expect(escapeHtml('')).toBe('');
  });

  it('escapes every interpolated value of a template, never a raw one', () => {
    expect(html`<p title="${'"x" & <y>'}">${raw('<b>ok</b>')}</p>`.value).toBe('<p title="&quot;x&quot; &amp; &lt;y&gt;">' + '<b>ok</b></p>');
  });
});

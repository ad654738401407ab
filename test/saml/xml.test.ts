import { escapeAttr, escapeText, parseRequestXml, parseXml, textOf } from '../../src/saml/xml';

// parseXml (xmldom: SP metadata, everything but requests) and parseRequestXml (saxes: the
// AuthnRequest intake's own tree) refuse the same documents with the same codes.
describe.each([
  ['parseXml', parseXml],
  ['parseRequestXml', parseRequestXml],
] as const)('%s refuses what it cannot read unambiguously', (_parser, parse) => {
  test.each([
    ['mismatched end tag', '<a><b></a>', 'ERR_XML_MALFORMED'],
    ['stray end tag', '<a></b>', 'ERR_XML_MALFORMED'],
    ['unquoted attribute', '<a b=1/>', 'ERR_XML_MALFORMED'],
    ['NUL character reference', '<a>&#0;</a>', 'ERR_XML_MALFORMED'],
    ['hex control character reference', '<a>&#x1F;</a>', 'ERR_XML_MALFORMED'],
    ['raw control character', '<a>\u0001</a>', 'ERR_XML_MALFORMED'],
    ['duplicate attribute', '<a x="1" x="2"/>', 'ERR_XML_MALFORMED'],
    ['undeclared entity', '<a>&foo;</a>', 'ERR_XML_MALFORMED'],
    ['DOCTYPE', '<!DOCTYPE a><a/>', 'ERR_XML_DOCTYPE'],
    ['ENTITY', '<a><!ENTITY x "y"></a>', 'ERR_XML_DOCTYPE'],
    ['two roots', '<a/><b/>', 'ERR_XML_MALFORMED'],
    ['processing instruction', '<a><?evil x?></a>', 'ERR_XML_PI'],
    ['too deep', '<a>'.repeat(70) + '</a>'.repeat(70), 'ERR_XML_DEPTH'],
    // Noncharacters and surrogates, as references (xmldom accepts them) and raw.
    ['U+FFFE reference in an attribute', '<a Format="&#xFFFE;"/>', 'ERR_XML_MALFORMED'],
    ['U+FFFF reference in text', '<a>x&#xffff;</a>', 'ERR_XML_MALFORMED'],
    ['U+FFFE decimal reference', '<a>&#65534;</a>', 'ERR_XML_MALFORMED'],
    ['surrogate reference (hex)', '<a>&#xD800;</a>', 'ERR_XML_MALFORMED'],
    ['surrogate reference (decimal)', '<a b="&#57343;"/>', 'ERR_XML_MALFORMED'],
    ['reference beyond U+10FFFF', '<a>&#x110000;</a>', 'ERR_XML_MALFORMED'],
    ['absurdly long reference', '<a>&#x0000000000000041;</a>', 'ERR_XML_MALFORMED'],
    ['raw U+FFFE', '<a>\uFFFE</a>', 'ERR_XML_MALFORMED'],
    ['raw lone surrogate', '<a>\uD800</a>', 'ERR_XML_MALFORMED'],
    // XML 1.0 §2.1: nothing but markup, comments and whitespace outside the root element.
    ['text after the root element', '<a/>trailing', 'ERR_XML_MALFORMED'],
    ['an entity reference after the root element', '<a/>&amp;', 'ERR_XML_MALFORMED'],
    ['text before the root element', 'leading<a/>', 'ERR_XML_MALFORMED'],
    ['text between the declaration and the root', '<?xml version="1.0"?>x<a/>', 'ERR_XML_MALFORMED'],
  ])('%s', (_name, xml, code) => {
    expect(() => parse(xml)).toThrow(expect.objectContaining({ code }));
  });

  test('size cap', () => {
    expect(() => parse(`<a>${'x'.repeat(2000)}</a>`, { maxBytes: 1000 })).toThrow(expect.objectContaining({ code: 'ERR_XML_TOO_LARGE' }));
  });

  test('well-formed documents with tab, LF, CR and the XML declaration pass', () => {
    const doc = parse('<?xml version="1.0" encoding="UTF-8"?>\n<a>\t&#x9;&#xA;&#xD;ok</a>');
    expect(doc.documentElement!.localName).toBe('a');
  });

  test('allowed characters at the edges of the Char ranges pass, raw and as references; whitespace and comments around the root pass', () => {
    const doc = parse('\uFEFF\n<a b="&#xD7FF;&#xE000;&#xFFFD;&#x10000;&#x10FFFF;&#32;">\uD7FF\uE000\uFFFD\u{10000}\u{10FFFF}</a>\n<!-- c -->\n');
    expect(doc.documentElement!.getAttribute('b')).toBe('\uD7FF\uE000\uFFFD\u{10000}\u{10FFFF} ');
  });

  test('textOf rejects a comment inside a value instead of dropping part of it', () => {
    const doc = parse('<a><n>user@evil.com<!---->.victim.com</n></a>');
    const n = doc.documentElement!.firstChild as Element;
    expect(() => textOf(n)).toThrow(expect.objectContaining({ code: 'ERR_XML_MIXED_CONTENT' }));
  });

  test('c14n escaping', () => {
    expect(escapeText('a&b<c>d\re')).toBe('a&amp;b&lt;c&gt;d&#xD;e');
    expect(escapeAttr('a&"<\t\n\r>')).toBe('a&amp;&quot;&lt;&#x9;&#xA;&#xD;>');
  });
});

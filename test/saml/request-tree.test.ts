import { ExclusiveCanonicalization } from 'xml-crypto';
import { NS, SIG_ALG } from '../../src/saml/constants';
import { forXmlCrypto } from '../../src/saml/request-tree';
import { parseRequestXml, parseXml } from '../../src/saml/xml';
import { buildAuthnRequestXml, CLAVE_ATTRS, rsaSigner, signAuthnRequestXml, type SpRequestOptions } from '../support/sp-requests';

/**
 * The intake's tree (saml/request-tree.ts, built from saxes) against xmldom's DOM, which the
 * intake's checks were written against and which xml-crypto (the signature oracle) parses with:
 * the same nodes in the same order, with the same names, prefixes, namespaces, attribute values
 * and text, and the same exclusive canonical form, on requests as SPs send them and on the
 * corners where parsers differ (line endings, attribute-value normalisation, references,
 * CDATA, namespace undeclarations, comments).
 */

type Shape = unknown[];

function shape(node: Node): Shape {
  const out: Shape = [];
  const walk = (n: Node): void => {
    if (n.nodeType === 1) {
      const el = n as Element;
      const attrs: unknown[] = [];
      for (let i = 0; i < el.attributes.length; i++) {
        const a = el.attributes[i]!;
        attrs.push([a.name, a.prefix, a.localName, a.namespaceURI, a.value, a.nodeName, a.nodeValue]);
      }
      out.push(['element', el.tagName, el.nodeName, el.prefix, el.localName, el.namespaceURI, attrs]);
      let count = 0;
      for (let c = el.firstChild, prev: Node | null = null; c; prev = c, c = c.nextSibling) {
        expect(c.parentNode).toBe(el);
        expect(c.previousSibling).toBe(prev);
        expect(el.childNodes[count]).toBe(c);
        count++;
        walk(c);
      }
      expect(el.childNodes.length).toBe(count);
      out.push(['end', el.tagName, el.textContent]);
    } else {
      out.push([n.nodeType, n.nodeName, (n as CharacterData).data, n.nodeValue]);
    }
  };
  walk(node);
  return out;
}

const c14n = (el: Element, prefixes: string[] = []): string =>
  new ExclusiveCanonicalization().process(el, { inclusiveNamespacesPrefixList: prefixes, ancestorNamespaces: [], defaultNsForPrefix: { ds: NS.ds } });

const signer = rsaSigner('tree test SP');
const spec = (o: Partial<SpRequestOptions> = {}): SpRequestOptions => ({
  issuer: 'https://sp.example/metadata',
  destination: 'https://pasarela.example/saml/sso',
  acsUrl: 'https://sp.example/acs',
  providerName: 's0000000x_e00000000;MiApp',
  spType: 'public',
  prefix: 'saml2p',
  requestedAttributes: [CLAVE_ATTRS.excludePermanente, CLAVE_ATTRS.relayState('Xy7Ab9Qz')],
  ...o,
});

const documents: Array<[string, string]> = [
  ['a signed Cl@ve request with KeyInfo', signAuthnRequestXml(buildAuthnRequestXml(spec()), { signer, sigAlg: SIG_ALG.rsaSha256, keyInfo: true })],
  ['a signed request without KeyInfo, samlp prefix', signAuthnRequestXml(buildAuthnRequestXml(spec({ prefix: 'samlp' })), { signer, sigAlg: SIG_ALG.rsaSha512, keyInfo: false })],
  ['an unsigned request', buildAuthnRequestXml(spec())],
  ['line endings: CR LF, lone CR, NEL, LINE SEPARATOR (xmldom normalises all four)', '<a x="1\r\n2\r3">l1\r\nl2\rl3\u0085l4\u2028l5\r\u0085l6</a>'],
  ['attribute values: literal tab, LF and CR become spaces, references keep them', '<a x="\t1\n2\r3" y="&#9;&#10;&#13;&#x20;" z="&lt;&amp;&gt;&quot;&apos;"/>'],
  ['text with the predefined entities and character references', '<a>&lt;b&gt; &amp; &quot;q&quot; &apos;s&apos; &#x41;&#66;&#x1F600;</a>'],
  ['CDATA, an empty CDATA section and text around them', '<a>x<![CDATA[<y>&z;]]>w<![CDATA[]]>v</a>'],
  ['comments inside and around the root', '<!-- before -->\n<a><!-- in -->t<!---->u</a>\n<!-- after -->'],
  [
    'default namespace, an undeclaration, prefixed and xml: attributes',
    '<r xmlns="urn:d" xmlns:p="urn:p" p:at="1" xml:lang="es"><c xmlns=""><p:e at="2" p:at="3"/></c><d/></r>',
  ],
  ['a prefix redeclared on a child', '<p:r xmlns:p="urn:one"><p:c xmlns:p="urn:two"><p:g/></p:c></p:r>'],
  ['whitespace-only text between elements', '<a>\n  <b>\t</b>\n  <c/>\n</a>\n'],
  ['an XML 1.1 declaration (parsed by XML 1.0’s rules, as xmldom does: a raw C1 control such as U+0080 is an XML 1.0 Char)', '<?xml version="1.1"?><a b="c\u0080">d\u2028e\u0080</a>'],
  ['an XML declaration and a byte-order mark', '\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<a b="c">d</a>'],
];

describe('the intake tree has xmldom’s shape', () => {
  test.each(documents)('%s', (_name, xml) => {
    const ours = forXmlCrypto(parseRequestXml(xml).documentElement!);
    const theirs = parseXml(xml).documentElement!;
    expect(shape(ours)).toEqual(shape(theirs));
    expect(c14n(ours)).toBe(c14n(theirs));
    expect(c14n(ours, ['p', 'saml2'])).toBe(c14n(theirs, ['p', 'saml2']));
  });

  test('attribute lookups answer as xmldom 0.8 does: the value, or "" when there is none', () => {
    const xml = '<r xmlns:p="urn:p" a="1" p:b="2"/>';
    const ours = forXmlCrypto(parseRequestXml(xml).documentElement!);
    const theirs = parseXml(xml).documentElement!;
    for (const name of ['a', 'p:b', 'b', 'missing', 'xmlns:p']) expect(ours.getAttribute(name)).toBe(theirs.getAttribute(name));
    expect(ours.getAttributeNS('urn:p', 'b')).toBe('2');
    expect(ours.getAttributeNS(null, 'a')).toBe('1');
    expect(ours.hasAttribute('a')).toBe(true);
    expect(ours.hasAttribute('b')).toBe(false);
  });

  test('removeChild unlinks the node everywhere (the enveloped transform and the comment removal use it)', () => {
    const root = forXmlCrypto(parseRequestXml('<a><b/><!--c--><d/></a>').documentElement!);
    const comment = root.childNodes[1]!;
    root.removeChild(comment);
    expect(root.childNodes.length).toBe(2);
    expect(root.firstChild!.nextSibling).toBe(root.lastChild);
    expect(root.lastChild!.previousSibling).toBe(root.firstChild);
    expect(comment.parentNode).toBeNull();
    expect(c14n(root)).toBe('<a><b></b><d></d></a>');
    expect(() => root.removeChild(comment)).toThrow();
  });

  test('the tree is typed as itself, not as a DOM: a DOM method it lacks does not type-check in an intake stage', () => {
    const root = parseRequestXml('<a xmlns="urn:a"><b/></a>').documentElement!;
    // `npm run typecheck` fails here if parseRequestXml is typed as returning a DOM Document again.
    // @ts-expect-error getElementsByTagNameNS is a DOM method the light tree does not have
    expect(root.getElementsByTagNameNS).toBeUndefined();
    // @ts-expect-error neither is the DOM's querySelector
    expect(root.querySelector).toBeUndefined();
  });

  test('a document that failed to parse leaves nothing behind for the next one', () => {
    expect(() => parseRequestXml('<a><b></a>')).toThrow(expect.objectContaining({ code: 'ERR_XML_MALFORMED' }));
    expect(() => parseRequestXml('<a xmlns:p="urn:p"><p:b>')).toThrow(expect.objectContaining({ code: 'ERR_XML_MALFORMED' }));
    const doc = parseRequestXml('<x y="1"><z/></x>');
    expect(shape(forXmlCrypto(doc.documentElement!))).toEqual(shape(parseXml('<x y="1"><z/></x>').documentElement!));
  });

  test('well-formedness errors name what is wrong and where', () => {
    expect(() => parseRequestXml('<a><b></a>')).toThrow(/not well-formed: 1:\d+: unexpected close tag/);
    expect(() => parseRequestXml('<a><p:b/></a>')).toThrow(/not well-formed: .*unbound namespace prefix: "p"/);
    expect(() => parseRequestXml('<a/><b/>')).toThrow('XML is not well-formed: only one root element is allowed (XML 1.0 §2.1), at 1:7');
    expect(() => parseRequestXml('<a/>x')).toThrow('XML is not well-formed: text outside the root element (XML 1.0 §2.1), at 1:5');
  });
});

import { DOMParser } from '@xmldom/xmldom';
import { PasarelaError } from '../errors';
import { MalformedXml, parseLightTree, type LightDocument } from './request-tree';

/**
 * The broker's XML parsing. Each inbound document is parsed once, by one parser, and every
 * check and signature verification reads that one tree; nothing re-parses a raw string (the
 * ruby-saml parser-differential CVEs). AuthnRequests, the hot path, go through
 * `parseRequestXml` (saxes into the intake's own tree, `request-tree.ts`); SP metadata and
 * everything else through `parseXml` (xmldom). Both make the same refusals before and after
 * parsing (test/saml/xml.test.ts runs every one on both), and request-tree.test.ts holds the two
 * trees to the same shape and canonical form.
 */
export interface ParseOptions {
  /** Reject documents larger than this many UTF-8 bytes (default 256 KiB). */
  maxBytes?: number;
  /** Reject element nesting deeper than this (default 64). */
  maxDepth?: number;
}

const NODE = { ELEMENT: 1, TEXT: 3, CDATA: 4, PI: 7, COMMENT: 8, DOCTYPE: 10 } as const;

/**
 * What the helpers below read of a tree: members that xmldom's DOM (`parseXml`) and the intake's
 * own tree (`parseRequestXml`, request-tree.ts) both have. The helpers take either tree and give
 * back elements of the tree they were given, so an intake stage never holds a DOM type whose
 * other methods the light tree lacks.
 */
export interface NodeLike {
  readonly nodeType: number;
  readonly nextSibling: NodeLike | null;
}
export interface ElementLike extends NodeLike {
  readonly namespaceURI: string | null | undefined;
  readonly localName: string;
  readonly firstChild: NodeLike | null;
}

/** Anything outside the XML 1.0 Char production (§2.2); a lone surrogate counts as outside. */
export const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/** Only whitespace, comments and PIs (the declaration; others are refused after parsing) before the root's start tag. */
// Each alternative matches in exactly one way (a comment cannot contain "--", a PI ends at the first "?>"), so no backtracking blow-up.
const PROLOG_THEN_ROOT = /^(?:[ \t\r\n]|<!--(?:[^-]|-[^-])*-->|<\?(?:[^?]|\?(?!>))*\?>)*<[^?!]/;

/** The first character reference (`&#…;`, `&#x…;`) naming a character XML cannot carry, if any. */
function forbiddenCharRef(xml: string): string | undefined {
  if (!xml.includes('&#')) return undefined;
  for (const m of xml.matchAll(/&#(x[0-9a-fA-F]+|[0-9]+);/g)) {
    const digits = m[1]!;
    const cp = digits.startsWith('x') ? parseInt(digits.slice(1), 16) : parseInt(digits, 10);
    if (digits.length > 12 || !isXmlChar(cp)) return m[0];
  }
  return undefined;
}

/** What both parsers refuse before parsing; answers the text to parse (a byte-order mark dropped). */
function precheck(xml: string, options: ParseOptions): string {
  const maxBytes = options.maxBytes ?? 256 * 1024;
  if (Buffer.byteLength(xml, 'utf8') > maxBytes) {
    throw new PasarelaError('ERR_XML_TOO_LARGE', `XML document larger than ${maxBytes} bytes`);
  }
  // DTDs are never legitimate in SAML: refuse before the parser sees them (XXE, billion laughs).
  if (/<!DOCTYPE/i.test(xml) || /<!ENTITY/i.test(xml)) {
    throw new PasarelaError('ERR_XML_DOCTYPE', 'XML with a DOCTYPE or ENTITY declaration is not accepted');
  }
  // XML 1.0 §2.2 forbids these characters, raw or as character references; xmldom lets both through.
  if (NOT_XML_CHAR.test(xml)) {
    throw new PasarelaError('ERR_XML_MALFORMED', 'XML is not well-formed: it contains a character XML 1.0 forbids');
  }
  const ref = forbiddenCharRef(xml);
  if (ref !== undefined) {
    throw new PasarelaError('ERR_XML_MALFORMED', `XML is not well-formed: the character reference ${ref} names a character XML 1.0 forbids`);
  }
  // A byte-order mark is the encoding's signature, not content.
  if (xml.charCodeAt(0) === 0xfeff) xml = xml.slice(1);
  // xmldom silently drops text before the root element (and keeps text after it, refused below).
  if (!PROLOG_THEN_ROOT.test(xml)) {
    throw new PasarelaError('ERR_XML_MALFORMED', 'XML is not well-formed: text before the root element');
  }
  return xml;
}

/**
 * An inbound AuthnRequest: the same refusals as `parseXml` (size, DTDs, forbidden characters,
 * text outside the root, PIs, depth), on the intake's own tree (`request-tree.ts`, saxes).
 */
export function parseRequestXml(xml: string, options: ParseOptions = {}): LightDocument {
  const text = precheck(xml, options);
  let doc: LightDocument;
  try {
    doc = parseLightTree(text);
  } catch (err) {
    if (err instanceof MalformedXml) throw new PasarelaError('ERR_XML_MALFORMED', `XML is not well-formed: ${saxesMessage(err.message)}`);
    throw err;
  }
  if (doc.processingInstructions.length > 0) throw new PasarelaError('ERR_XML_PI', 'XML processing instructions are not accepted');
  const root = doc.documentElement;
  if (!root) throw new PasarelaError('ERR_XML_ROOT', 'XML must have exactly one root element (found 0)');
  checkDepth(root, options.maxDepth ?? 64);
  return doc;
}

/** saxes' words for the two refusals SPs meet most, in ours (with the XML 1.0 section); the rest as saxes says them, with its line:column. */
const SAXES_WORDING: Record<string, string> = {
  'text data outside of root node.': 'text outside the root element (XML 1.0 §2.1)',
  'documents may contain only one root.': 'only one root element is allowed (XML 1.0 §2.1)',
};

function saxesMessage(message: string): string {
  const first = message.split('\n')[0] ?? '';
  const m = /^(\d+:\d+): (.*)$/.exec(first);
  const ours = m ? SAXES_WORDING[m[2]!] : undefined;
  return ours ? `${ours}, at ${m![1]}` : first;
}

export function parseXml(xml: string, options: ParseOptions = {}): Document {
  xml = precheck(xml, options);
  const problems: string[] = [];
  const record = (msg: string): void => {
    problems.push(String(msg).split('\n')[0] ?? 'parse error');
  };
  let doc: Document;
  try {
    doc = new DOMParser({
      locator: {},
      // xmldom reports mismatched end tags and unquoted attributes only as warnings: all are fatal here.
      errorHandler: { warning: record, error: record, fatalError: record },
    }).parseFromString(xml, 'text/xml') as unknown as Document;
  } catch (err) {
    throw new PasarelaError('ERR_XML_MALFORMED', `XML is not well-formed: ${(err as Error).message.split('\n')[0]}`);
  }
  if (problems.length > 0) {
    throw new PasarelaError('ERR_XML_MALFORMED', `XML is not well-formed: ${problems[0]}`);
  }
  let roots = 0;
  for (let n = doc.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === NODE.ELEMENT) roots++;
    else if ((n.nodeType === NODE.TEXT || n.nodeType === NODE.CDATA) && !/^[ \t\r\n]*$/.test((n as CharacterData).data)) {
      throw new PasarelaError('ERR_XML_MALFORMED', 'XML is not well-formed: text outside the root element (XML 1.0 §2.1)');
    }
    else if (n.nodeType === NODE.DOCTYPE) throw new PasarelaError('ERR_XML_DOCTYPE', 'XML with a DOCTYPE is not accepted');
    else if (n.nodeType === NODE.PI && (n as ProcessingInstruction).target.toLowerCase() !== 'xml') {
      throw new PasarelaError('ERR_XML_PI', 'XML processing instructions are not accepted');
    }
  }
  if (roots !== 1 || !doc.documentElement) {
    throw new PasarelaError('ERR_XML_ROOT', `XML must have exactly one root element (found ${roots})`);
  }
  checkDepth(doc.documentElement, options.maxDepth ?? 64);
  return doc;
}

function checkDepth(root: ElementLike, maxDepth: number): void {
  const stack: Array<[ElementLike, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > maxDepth) throw new PasarelaError('ERR_XML_DEPTH', `XML nested deeper than ${maxDepth} elements`);
    for (let c = node.firstChild; c; c = c.nextSibling) {
      if (c.nodeType === NODE.ELEMENT) stack.push([c as ElementLike, depth + 1]);
      else if (c.nodeType === NODE.PI) throw new PasarelaError('ERR_XML_PI', 'XML processing instructions are not accepted');
    }
  }
}

/** Element children, skipping whitespace text and comments. */
export function childElements<E extends ElementLike>(el: E): E[] {
  const out: E[] = [];
  // The children of an element of a tree are that tree's nodes.
  for (let c = el.firstChild; c; c = c.nextSibling) if (c.nodeType === NODE.ELEMENT) out.push(c as E);
  return out;
}

export function isElement(el: ElementLike, ns: string, localName: string): boolean {
  return el.namespaceURI === ns && el.localName === localName;
}

/**
 * Text content of a simple-content element. Rejects comments, PIs and child elements inside
 * the value instead of silently dropping part of it (Duo 2018 comment-injection class).
 */
export function textOf(el: ElementLike): string {
  let text = '';
  for (let c = el.firstChild; c; c = c.nextSibling) {
    if (c.nodeType === NODE.TEXT || c.nodeType === NODE.CDATA) text += (c as NodeLike & { data: string }).data;
    else {
      throw new PasarelaError('ERR_XML_MIXED_CONTENT', `<${el.localName}> must contain text only`);
    }
  }
  return text;
}

/** Escape character data as exclusive c14n renders it. */
export function escapeText(s: string): string {
  return s.replace(/[&<>\r]/g, (ch) => (ch === '&' ? '&amp;' : ch === '<' ? '&lt;' : ch === '>' ? '&gt;' : '&#xD;'));
}

/** Escape an attribute value as exclusive c14n renders it. */
export function escapeAttr(s: string): string {
  return s.replace(/[&<"\t\n\r]/g, (ch) =>
    ch === '&' ? '&amp;' : ch === '<' ? '&lt;' : ch === '"' ? '&quot;' : ch === '\t' ? '&#x9;' : ch === '\n' ? '&#xA;' : '&#xD;',
  );
}

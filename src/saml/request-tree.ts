import { SaxesParser, type SaxesTagNS } from 'saxes';

/**
 * The tree the AuthnRequest intake reads: built from saxes' events (a strict, conformant XML 1.0 +
 * Namespaces parser), with the part of the W3C DOM that the intake's stages and xml-crypto's
 * `ExclusiveCanonicalization` / `findAncestorNsForElement` use, as plain objects. xmldom builds
 * the full DOM (NamedNodeMaps, live child lists, a locator) at about three times the cost on our
 * requests, and the intake parses every request the broker receives (issue 9); SP metadata and
 * everything else keep xmldom (`parseXml`).
 *
 * The shapes follow xmldom's, which the intake was written and tested against and which
 * xml-crypto (the oracle of test/saml/post-signature-oracle.test.ts) parses with:
 * - `prefix` is null when there is none; `namespaceURI` is undefined (where xmldom has no
 *   default namespace in scope) or '' (under `xmlns=""`), never null;
 * - a namespace declaration is an attribute in the xmlns namespace (`xmlns:p`: prefix 'xmlns',
 *   localName 'p'; `xmlns`: no prefix, localName 'xmlns');
 * - `attributes` and `childNodes` are arrays (index access, `length`), in document order;
 * - `getAttribute` answers '' for a missing attribute, as xmldom 0.8 does;
 * - line endings are normalised before parsing exactly as xmldom's DOMParser does (CR LF, CR NEL,
 *   CR, NEL and LINE SEPARATOR to LF), so that canonical octets are xml-crypto's byte for byte.
 */

type Child = LightElement | LightCharacterData;

abstract class LightNode {
  abstract readonly nodeType: number;
  abstract readonly nodeName: string;
  parentNode: LightElement | LightDocument | null = null;
  previousSibling: Child | null = null;
  nextSibling: Child | null = null;
  constructor(readonly ownerDocument: LightDocument | null) {}
}

abstract class LightParent extends LightNode {
  readonly childNodes: Child[] = [];
  firstChild: Child | null = null;
  lastChild: Child | null = null;

  appendChild(child: Child): Child {
    if (child.parentNode) child.parentNode.removeChild(child);
    child.parentNode = this as unknown as LightElement;
    child.previousSibling = this.lastChild;
    child.nextSibling = null;
    if (this.lastChild) this.lastChild.nextSibling = child;
    else this.firstChild = child;
    this.lastChild = child;
    this.childNodes.push(child);
    return child;
  }

  removeChild(child: Child): Child {
    const i = this.childNodes.indexOf(child);
    if (i === -1) throw new Error('removeChild: not a child of this node');
    this.childNodes.splice(i, 1);
    if (child.previousSibling) child.previousSibling.nextSibling = child.nextSibling;
    else this.firstChild = child.nextSibling;
    if (child.nextSibling) child.nextSibling.previousSibling = child.previousSibling;
    else this.lastChild = child.previousSibling;
    child.parentNode = null;
    child.previousSibling = null;
    child.nextSibling = null;
    return child;
  }
}

export class LightDocument extends LightParent {
  readonly nodeType = 9;
  readonly nodeName = '#document';
  documentElement: LightElement | null = null;
  /** Processing instructions met while parsing, by target: refused by the caller, after the well-formedness verdict. */
  readonly processingInstructions: string[] = [];
  constructor() {
    super(null);
  }
}

export class LightAttr {
  readonly nodeType = 2;
  constructor(
    readonly name: string,
    readonly prefix: string | null,
    readonly localName: string,
    readonly namespaceURI: string | undefined,
    public value: string,
  ) {}
  get nodeName(): string {
    return this.name;
  }
  get nodeValue(): string {
    return this.value;
  }
}

export class LightElement extends LightParent {
  readonly nodeType = 1;
  constructor(
    doc: LightDocument,
    readonly tagName: string,
    readonly prefix: string | null,
    readonly localName: string,
    readonly namespaceURI: string | undefined,
    readonly attributes: LightAttr[],
  ) {
    super(doc);
  }
  get nodeName(): string {
    return this.tagName;
  }
  getAttribute(name: string): string {
    for (const a of this.attributes) if (a.name === name) return a.value;
    return '';
  }
  getAttributeNS(ns: string | null, localName: string): string {
    for (const a of this.attributes) if (a.localName === localName && (a.namespaceURI || null) === (ns || null)) return a.value;
    return '';
  }
  hasAttribute(name: string): boolean {
    return this.attributes.some((a) => a.name === name);
  }
  /** As the DOM: replaces the attribute of that namespace and local name, or adds it (ExclusiveCanonicalization declares hoisted namespaces with it). */
  setAttributeNS(ns: string | null, qualifiedName: string, value: string): void {
    const colon = qualifiedName.indexOf(':');
    const prefix = colon === -1 ? null : qualifiedName.slice(0, colon);
    const localName = colon === -1 ? qualifiedName : qualifiedName.slice(colon + 1);
    const uri = ns || undefined;
    const existing = this.attributes.find((a) => a.localName === localName && a.namespaceURI === uri);
    if (existing) existing.value = value;
    else this.attributes.push(new LightAttr(qualifiedName, prefix, localName, uri, value));
  }
  /** The text of every text and CDATA descendant, in document order (comments and PIs left out), as the DOM's textContent. */
  get textContent(): string {
    let out = '';
    for (const c of this.childNodes) if (c.nodeType !== 8) out += c.textContent;
    return out;
  }
}

export class LightCharacterData extends LightNode {
  constructor(
    doc: LightDocument,
    readonly nodeType: 3 | 4 | 8,
    public data: string,
  ) {
    super(doc);
  }
  get nodeName(): string {
    return this.nodeType === 3 ? '#text' : this.nodeType === 4 ? '#cdata-section' : '#comment';
  }
  get nodeValue(): string {
    return this.data;
  }
  get textContent(): string {
    return this.data;
  }
  // xml-crypto's node checks (@xmldom/is-dom-node) require every node to have these two.
  appendChild(): never {
    throw new Error('appendChild: character data has no children');
  }
  removeChild(): never {
    throw new Error('removeChild: character data has no children');
  }
}

/**
 * An element of this tree as xml-crypto's `ExclusiveCanonicalization.process` and
 * `findAncestorNsForElement` take it (typed as the DOM's). They read only members this tree
 * has; test/saml/request-tree.test.ts holds their output on it to their output on xmldom's DOM,
 * and the oracle test holds the intake's verdicts to xml-crypto's. The one place the tree is
 * typed as a DOM: every intake stage takes `LightElement`, so a DOM method the tree lacks does
 * not type-check there.
 */
export function forXmlCrypto(el: LightElement): Element {
  return el as unknown as Element;
}

/** xmldom DOMParser's own line-ending normalisation (dom-parser.js normalizeLineEndings), applied only when there is something to normalise. */
function normalizeLineEndings(xml: string): string {
  if (xml.indexOf('\r') === -1 && xml.indexOf('\u0085') === -1 && xml.indexOf('\u2028') === -1) return xml;
  return xml.replace(/\r[\n\u0085]/g, '\n').replace(/[\r\u0085\u2028]/g, '\n');
}

/** A well-formedness error, with saxes' own message (line:column: what). */
export class MalformedXml extends Error {}

/**
 * xmldom's namespaceURI for an element: its namespace; for an unprefixed element in no namespace,
 * '' under a default-namespace undeclaration (`xmlns=""`) and undefined where no default
 * namespace was ever declared (saxes says '' for both).
 */
function elementNamespace(tag: SaxesTagNS, attrs: LightAttr[]): string | undefined {
  if (tag.uri !== '' || tag.prefix !== '') return tag.uri || undefined;
  if (attrs.some(isDefaultDeclaration)) return '';
  for (let el: LightParent | null = current!; el instanceof LightElement; el = el.parentNode) {
    if (el.attributes.some(isDefaultDeclaration)) return '';
  }
  return undefined;
}

function isDefaultDeclaration(a: LightAttr): boolean {
  return a.prefix === null && a.localName === 'xmlns';
}

/** The document being built. Parsing is synchronous, so one build is in progress at a time. */
let doc: LightDocument | undefined;
let current: LightParent | undefined;

/**
 * saxes with its handlers on the prototype. `parser.on(...)` adds each handler as an own property
 * after construction, and with six or more of them saxes parsed our requests four times slower
 * (84 against 17 µs, all of it in its per-character reads: the instance's shape changes under its
 * hottest code). saxes calls `this.<name>Handler`, so prototype methods are found the same way
 * and the instance keeps its constructor's shape. The names are saxes' own
 * (EVENT_NAME_TO_HANDLER_NAME in saxes.js; private in its typings, hence Object.assign).
 */
class RequestSaxes extends SaxesParser<typeof SAXES_OPTIONS> {}
/** XML 1.0 and Namespaces whatever the declaration says: a `version="1.1"` declaration does not switch saxes to 1.1's character rules (the prechecks are 1.0's). */
const SAXES_OPTIONS = { xmlns: true, position: true, defaultXMLVersion: '1.0', forceXMLVersion: true } as const;
Object.assign(RequestSaxes.prototype, {
  errorHandler(err: Error): never {
    throw new MalformedXml(err.message);
  },
  openTagHandler(tag: SaxesTagNS): void {
    const attrs: LightAttr[] = [];
    for (const name in tag.attributes) {
      const a = tag.attributes[name]!;
      attrs.push(new LightAttr(a.name, a.prefix || null, a.local, a.uri || undefined, a.value));
    }
    const el = new LightElement(doc!, tag.name, tag.prefix || null, tag.local, elementNamespace(tag, attrs), attrs);
    current!.appendChild(el);
    if (current === doc) doc!.documentElement = el;
    current = el;
  },
  closeTagHandler(): void {
    current = (current!.parentNode as LightParent | null) ?? doc;
  },
  textHandler(text: string): void {
    // Whitespace outside the root (saxes refuses any other text there) is not kept, as xmldom.
    if (current === doc) return;
    // Text right after text (only an empty CDATA section, which makes no node, separates two
    // runs) continues the same node, as in xmldom: a value split so reads whole in both trees.
    const last = current!.lastChild;
    if (last && last.nodeType === 3) last.data += text;
    else current!.appendChild(new LightCharacterData(doc!, 3, text));
  },
  cdataHandler(text: string): void {
    // An empty CDATA section is no node, as in xmldom (its characters() skips empty text): it adds
    // nothing to the canonical form either.
    if (text !== '') current!.appendChild(new LightCharacterData(doc!, 4, text));
  },
  commentHandler(text: string): void {
    current!.appendChild(new LightCharacterData(doc!, 8, text));
  },
  piHandler(pi: { target: string }): void {
    doc!.processingInstructions.push(pi.target);
  },
  // No doctype handler: with one registered (through on()) saxes parsed four times slower as well,
  // and the caller refuses any '<!DOCTYPE' before parsing (xml.ts precheck).
});

/**
 * Parse `xml` into a LightDocument. Throws MalformedXml for anything that is not well-formed XML
 * 1.0 with namespaces. Text outside the root element is refused as saxes refuses it; comments
 * outside it are kept and whitespace dropped, as xmldom does.
 */
export function parseLightTree(xml: string): LightDocument {
  const built = new LightDocument();
  doc = built;
  current = built;
  try {
    new RequestSaxes(SAXES_OPTIONS).write(normalizeLineEndings(xml)).close();
  } finally {
    doc = undefined;
    current = undefined;
  }
  return built;
}

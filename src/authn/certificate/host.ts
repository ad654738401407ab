import { constants as cryptoConstants, randomBytes, type X509Certificate } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type AddressInfo } from 'node:net';
import path from 'node:path';
import { TLSSocket, type DetailedPeerCertificate } from 'node:tls';
import cookieParser from 'cookie-parser';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { AuditEvent } from '../../audit/log';
import type { Broker } from '../../broker/broker';
import { maskDni } from '../../citizens/nif';
import { ConfigError } from '../../errors';
import { DefaultRevocationChecker, type RevocationChecker } from '../../pki/revocation';
import { ensureTlsPair } from '../../pki/tls-dev';
import { caProblem, validateClientCertificate, type CertErrorCode, type TrustAnchor } from '../../pki/validate';
import { CertificateParseError, loadCertificateFile, parsePemBundle } from '../../pki/x509';
import type { HttpFetcher } from '../../pki/http';
import type { Metrics } from '../../metrics';
import type { KeyValueStore } from '../../store/types';
import { pageContext, pageSetup, setCsp } from '../../web/context';
import type { MessageKey } from '../../web/i18n';
import { renderError, renderUnavailable } from '../../web/render';
import { unavailableBackend } from '../../faults';
import { STYLESHEET } from '../../web/views';
import type { CertificateSettings } from './config';
import { ACCOUNT_FLOW_PATTERN, accountCertificateBinding, accountFlowKey, handleKey, REGISTRATION_FLOW_PATTERN, registrationBinding, registrationFlowKey, type CertificateLoginResult } from './handle';
import { certificateProblemPage } from './views';

/**
 * The certificate host: a separate HTTPS listener that asks the browser for a client certificate
 * (as Cl@ve's pasarela-ident host does), validates it itself (`rejectUnauthorized: false`, so a
 * bad certificate gets a clear page instead of a TLS alert), and hands a one-time result back to
 * the main host.
 */

export interface CertificateTrust {
  anchors: TrustAnchor[];
  intermediates: X509Certificate[];
}

/** Anchors and intermediates from the configured files; each must really be a CA. */
export function loadCertificateTrust(settings: CertificateSettings, root: string): CertificateTrust {
  const read = (file: string, key: string): X509Certificate[] => {
    const full = path.resolve(root, file);
    let certs: X509Certificate[];
    try {
      certs = loadCertificateFile(full);
    } catch (err) {
      throw new ConfigError(key, `a readable PEM or DER certificate file (${full}: ${(err as Error).message})`);
    }
    if (certs.length === 0) throw new ConfigError(key, `${full} to hold at least one certificate`);
    for (const c of certs) {
      const problem = caProblem(c);
      if (problem) throw new ConfigError(key, `${full} to hold CA certificates, but "${c.subject.replace(/\n/g, ', ')}" is not one (${problem})`);
    }
    return certs;
  };
  const anchors = settings.anchors.flatMap((a, i) => read(a.path, `certificate.anchors.${i}.path`).map((cert) => ({ cert, kind: a.kind })));
  const intermediates = settings.intermediates.flatMap((p, i) => read(p, `certificate.intermediates.${i}`));
  return { anchors, intermediates };
}

/** The revocation checker the settings describe. */
export function revocationCheckerFrom(settings: CertificateSettings, log?: Logger, fetch?: HttpFetcher): DefaultRevocationChecker {
  return new DefaultRevocationChecker({
    crl: { ...settings.crl },
    ocsp: { ...settings.ocsp },
    clockSkewSeconds: settings.clockSkewSeconds,
    log,
    fetch,
  });
}

/** Public base URL of the certificate host (for the link on the main host). */
export function certificateHostUrl(settings: CertificateSettings): string {
  if (settings.publicUrl) return settings.publicUrl.replace(/\/+$/, '');
  const scheme = settings.trustedProxy.plainHttp ? 'http' : 'https';
  return `${scheme}://localhost:${settings.port}`;
}

export interface CertificateHostOptions {
  settings: CertificateSettings;
  /** The main host's public base URL (config.baseUrl): where the browser goes back. */
  baseUrl: string;
  broker: Pick<Broker, 'load'>;
  store: KeyValueStore;
  log: Logger;
  now?: () => Date;
  env: 'development' | 'production' | 'test';
  /** Relative TLS key/certificate paths resolve here (config.keys.dir, resolved). */
  keysDir: string;
  /** Relative anchor and intermediate paths resolve here (config.root). */
  root: string;
  /** Already loaded trust (default: loadCertificateTrust). */
  trust?: CertificateTrust;
  /** Default: revocationCheckerFrom(settings). */
  revocation?: RevocationChecker;
  /** Server TLS key and certificate (default: the configured files, generated in development). */
  tls?: { keyPem: string; certPem: string };
  /**
   * The audit trail. A certificate refused for a login is recorded there as
   * `auth.login.failed` (method certificate, the refusal's code, the SP, the address), as a wrong
   * password or PIN is; one refused for an account service (registration, recovery,
   * deregistration) as `account.certificate.refused` (the service, the code, the address). The
   * record is written before the page is answered.
   */
  audit?: (event: AuditEvent) => Promise<void>;
  /** Counts refused handshakes (pasarela_certificate_tls_failures_total). */
  metrics?: Pick<Metrics, 'certificateTlsFailures'>;
}

export interface CertificateHost {
  app: Express;
  server: http.Server | https.Server;
  /** Where it actually listens, e.g. https://127.0.0.1:8443 */
  url: string;
  port: number;
  close(): Promise<void>;
}

const STATUS_BY_CODE: Partial<Record<CertErrorCode | 'ERR_CERT_PROXY_UNTRUSTED', number>> = {
  ERR_CERT_MISSING: 400,
  ERR_CERT_MALFORMED: 400,
  ERR_CERT_REVOCATION_UNAVAILABLE: 503,
};

function proxyList(addresses: string[]): BlockList {
  const list = new BlockList();
  for (const entry of addresses) {
    const [addr, bits] = entry.split('/');
    const type = isIP(addr ?? '') === 6 ? 'ipv6' : 'ipv4';
    if (!addr || isIP(addr) === 0) throw new ConfigError('certificate.trustedProxy.addresses', `IP addresses or CIDR ranges, not "${entry}"`);
    if (bits !== undefined) list.addSubnet(addr, Number(bits), type);
    else list.addAddress(addr, type);
  }
  return list;
}

function remoteIp(req: Request): string {
  const raw = req.socket.remoteAddress ?? '';
  return raw.startsWith('::ffff:') && isIP(raw.slice(7)) === 4 ? raw.slice(7) : raw;
}

function fromList(list: BlockList, ip: string): boolean {
  const type = isIP(ip);
  return type !== 0 && list.check(ip, type === 6 ? 'ipv6' : 'ipv4');
}

/** The DER certificates the TLS client presented, leaf first. */
function presentedChain(socket: TLSSocket): Buffer[] {
  // An empty object when the client sent no certificate.
  const peer: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  const out: Buffer[] = [];
  let cur: DetailedPeerCertificate | undefined = peer?.raw ? peer : undefined;
  while (cur?.raw && !out.some((b) => b.equals(cur!.raw)) && out.length < 10) {
    out.push(cur.raw);
    cur = cur.issuerCertificate;
  }
  return out;
}

/** The express app of the certificate host (exported for tests; `startCertificateHost` serves it). */
export function createCertificateHostApp(
  opts: CertificateHostOptions & { trust: CertificateTrust; revocation: RevocationChecker },
): Express {
  const { settings, log, store, broker, trust, revocation } = opts;
  const now = opts.now ?? (() => new Date());
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');
  const proxies = settings.trustedProxy.enabled ? proxyList(settings.trustedProxy.addresses) : null;
  const headerName = settings.trustedProxy.header.toLowerCase();

  const app = express();
  app.disable('x-powered-by');
  app.use(
    pinoHttp({
      logger: log,
      genReqId: (_req, res) => {
        const id = randomBytes(16).toString('hex');
        res.setHeader('X-Request-Id', id);
        return id;
      },
      serializers: { req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, path: req.url.split('?')[0] }) },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
      customProps: () => ({ host: 'certificate' }),
    }),
  );
  app.use(helmet({ contentSecurityPolicy: false, crossOriginEmbedderPolicy: false }));
  app.use(cookieParser());
  app.use(pageSetup({ secureCookies: !settings.trustedProxy.plainHttp, csrfSecret: '' }));

  app.get('/static/pasarela.css', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=86400');
    res.type('css').send(STYLESHEET);
  });
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });

  /** `to`: a login transaction id (links back to its chooser), or the links themselves (account registration). */
  const problem = (req: Request, res: Response, code: CertErrorCode | 'ERR_CERT_PROXY_UNTRUSTED', detail: string | undefined, to: string | { chooserHref: string; retryHref: string }) => {
    const links = typeof to === 'string' ? { chooserHref: `${baseUrl}/login/${to}`, retryHref: `${baseUrl}/login/${to}/certificate` } : to;
    const ctx = pageContext(req, res);
    setCsp(res);
    res.setHeader('Cache-Control', 'no-store');
    res
      .status(STATUS_BY_CODE[code] ?? 403)
      .type('html')
      .send(
        certificateProblemPage(ctx, {
          message: ctx.t(`certificate.error.${code}` as MessageKey),
          detail,
          chooserHref: links.chooserHref,
          retryHref: links.retryHref,
          referenceId: String(req.id),
        }),
      );
  };

  /**
   * The certificate the browser presented (TLS handshake, or a trusted proxy's header), validated:
   * the result, or null after answering with the problem page. `to` says where its links go;
   * `tag` names the login (or registration) in the logs.
   */
  const validatePresented = async (
    req: Request,
    res: Response,
    tag: string,
    to: Parameters<typeof problem>[4],
    onRefused?: (code: CertErrorCode | 'ERR_CERT_PROXY_UNTRUSTED') => Promise<void>,
  ) => {
    const fail = async (code: CertErrorCode | 'ERR_CERT_PROXY_UNTRUSTED', detail?: string): Promise<null> => {
      await onRefused?.(code);
      problem(req, res, code, detail, to);
      return null;
    };
    const ip = remoteIp(req);
    const header = req.get(headerName);
    let presented: Buffer[] | X509Certificate[];
    if (header !== undefined && (!proxies || !fromList(proxies, ip))) {
      req.log.warn({ event: 'auth.certificate.proxy_refused', from: ip, txn: tag }, 'client certificate header from an address that is not a trusted proxy');
      return fail('ERR_CERT_PROXY_UNTRUSTED');
    }
    if (proxies && fromList(proxies, ip)) {
      if (!header) return fail('ERR_CERT_MISSING');
      try {
        presented = parsePemBundle(decodeURIComponent(header));
      } catch (err) {
        return fail('ERR_CERT_MALFORMED', err instanceof CertificateParseError ? err.message : 'the header is not a URL-encoded PEM certificate');
      }
    } else {
      presented = req.socket instanceof TLSSocket ? presentedChain(req.socket) : [];
    }
    if (presented.length === 0) return fail('ERR_CERT_MISSING');

    const [leaf, ...chain] = presented as Array<Buffer | X509Certificate>;
    const at = now();
    const result = await validateClientCertificate(leaf!, [...chain, ...trust.intermediates], {
      anchors: trust.anchors,
      now: at,
      revocation,
      maxIntermediates: settings.maxIntermediates,
    });
    if (!result.ok) {
      req.log.info({ event: 'auth.certificate.rejected', code: result.code, reason: result.message, txn: tag }, 'client certificate rejected');
      return fail(result.code, result.message);
    }
    for (const w of result.warnings) req.log.warn({ event: 'auth.certificate.warning', txn: tag, warning: w }, 'certificate check skipped');
    return { ...result, at };
  };

  /** validatePresented's onRefused: the refusal as an audit record of `type`, with the code, the address and the page's reference. */
  const auditRefusal =
    (req: Request, type: string, detail: Record<string, string>) =>
    async (code: CertErrorCode | 'ERR_CERT_PROXY_UNTRUSTED'): Promise<void> => {
      await opts.audit?.({ type, actor: 'citizen', requestId: String(req.id), detail: { ...detail, reason: code, address: remoteIp(req) } });
    };

  /** The one-time hand-back to the main host: the validated result under a random handle. */
  const handOff = async (bindTo: string, result: NonNullable<Awaited<ReturnType<typeof validatePresented>>>): Promise<string> => {
    const handle = randomBytes(24).toString('base64url');
    const stored: CertificateLoginResult = {
      v: 1,
      txnId: bindTo,
      kind: result.kind,
      identity: result.identity,
      issuer: result.issuer,
      serial: result.serial,
      at: result.at.toISOString(),
    };
    await store.set(handleKey(handle), JSON.stringify(stored), settings.handleTtlSeconds * 1000);
    return handle;
  };

  app.all('/login/:txn/certificate/tls', async (req, res) => {
    if (req.method !== 'GET') {
      res.setHeader('Allow', 'GET');
      return renderError(req, res, 405, 'error.notfound');
    }
    const txnId = String(req.params.txn);
    const loaded = await broker.load(txnId);
    if (!loaded || loaded.txn.method !== 'certificate') return renderError(req, res, 410, 'error.expired');

    const result = await validatePresented(req, res, txnId, txnId, auditRefusal(req, 'auth.login.failed', { method: 'certificate', sp: loaded.sp.entityId }));
    if (!result) return;
    const handle = await handOff(txnId, result);
    req.log.info(
      { event: 'auth.certificate.validated', kind: result.kind, issuer: result.issuer, who: maskDni(result.identity.dni), txn: txnId },
      'client certificate accepted',
    );
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(303, `${baseUrl}/login/${encodeURIComponent(txnId)}/certificate/return?handle=${handle}`);
  });

  /**
   * A certificate proven for a flow the main host opened (not a login): the same validation,
   * the result handed back bound to that flow, then back to the main host's return page.
   */
  const flowCertificate = (
    path: string,
    f: { pattern: RegExp; flowKey: (flow: string) => string; binding: (flow: string) => string; label: string; back: string; returnPath: string; event: string; msg: string },
  ) =>
    app.get(path, async (req, res) => {
      const flow = typeof req.query.flow === 'string' ? req.query.flow : '';
      if (!f.pattern.test(flow) || !(await store.get(f.flowKey(flow)))) return renderError(req, res, 410, 'error.expired');
      const links = { chooserHref: `${baseUrl}${f.back}`, retryHref: `${baseUrl}${f.back}` };
      const result = await validatePresented(req, res, `${f.label}:${flow.slice(0, 8)}`, links, auditRefusal(req, 'account.certificate.refused', { service: f.label }));
      if (!result) return;
      const handle = await handOff(f.binding(flow), result);
      req.log.info({ event: f.event, kind: result.kind, who: maskDni(result.identity.dni) }, f.msg);
      res.setHeader('Cache-Control', 'no-store');
      res.redirect(303, `${baseUrl}${f.returnPath}?flow=${flow}&handle=${handle}`);
    });
  // Online registration with a certificate (/account/register, issue 7).
  flowCertificate('/account/register/tls', {
    pattern: REGISTRATION_FLOW_PATTERN,
    flowKey: registrationFlowKey,
    binding: registrationBinding,
    label: 'register',
    back: '/account/register',
    returnPath: '/account/register/return',
    event: 'account.register.certificate',
    msg: 'client certificate accepted for a registration',
  });
  // Recovery and deregistration proven with a certificate (/account/recover, /account/deregister).
  flowCertificate('/account/certificate/tls', {
    pattern: ACCOUNT_FLOW_PATTERN,
    flowKey: accountFlowKey,
    binding: accountCertificateBinding,
    label: 'account',
    back: '/account/recover',
    returnPath: '/account/certificate/return',
    event: 'account.certificate',
    msg: 'client certificate accepted for an account service',
  });

  app.use((req, res) => renderError(req, res, 404, 'error.notfound'));
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const backend = unavailableBackend(err);
    if (backend) {
      // Redis (the one-time hand-back) or PostgreSQL down: the same 503 page as the main host.
      req.log.error({ event: `${backend}.unavailable`, err: err instanceof Error ? err.message : String(err) }, `${backend} unavailable: answered 503`);
      if (!res.headersSent) renderUnavailable(req, res);
      return;
    }
    req.log.error({ err }, 'unhandled error on the certificate host');
    if (res.headersSent) return;
    renderError(req, res, 500, 'error.internal');
  });
  return app;
}

/** The label of a refused handshake: Node's error code (ERR_SSL_…, ECONNRESET) when it is one, else TLS_ERROR. */
export function tlsFailureReason(err: { code?: unknown }): string {
  return typeof err.code === 'string' && /^[A-Z][A-Z0-9_]{0,79}$/.test(err.code) ? err.code : 'TLS_ERROR';
}

/** Start the certificate host: load trust and TLS keys, listen, return a handle to close it. */
export async function startCertificateHost(opts: CertificateHostOptions): Promise<CertificateHost> {
  const { settings, log } = opts;
  if (opts.env === 'production' && !settings.publicUrl?.startsWith('https://')) {
    throw new ConfigError('certificate.publicUrl', 'the https:// URL at which browsers reach the certificate host (required in production)');
  }
  const trust = opts.trust ?? loadCertificateTrust(settings, opts.root);
  if (trust.anchors.length === 0) {
    log.warn({ event: 'certificate.no_anchors' }, 'the certificate host has no trust anchors: every certificate will be refused (configure certificate.anchors)');
  }
  if (!settings.crl.enabled && !settings.ocsp.enabled) {
    log.warn({ event: 'certificate.revocation_off' }, 'revocation checking is off: revoked certificates will be accepted');
  }
  const revocation = opts.revocation ?? revocationCheckerFrom(settings, log);
  const app = createCertificateHostApp({ ...opts, trust, revocation });

  let server: http.Server | https.Server;
  if (settings.trustedProxy.plainHttp) {
    server = http.createServer(app);
  } else {
    let tls = opts.tls;
    if (!tls) {
      const keyFile = path.resolve(opts.keysDir, settings.tls.keyPath);
      const certFile = path.resolve(opts.keysDir, settings.tls.certPath);
      const generate = settings.tls.generateIfMissing && opts.env !== 'production';
      const names = ['localhost', '127.0.0.1', settings.host, settings.publicUrl ? new URL(settings.publicUrl).hostname : ''];
      try {
        const pair = ensureTlsPair(keyFile, certFile, names, generate);
        if (pair.generated) log.warn({ keyFile, certFile }, 'generated a self-signed TLS pair for the certificate host; use a real certificate in production');
        tls = pair;
      } catch (err) {
        throw new ConfigError('certificate.tls', (err as Error).message);
      }
    }
    const ca = settings.advertiseAnchors ? [...trust.anchors.map((a) => a.cert), ...trust.intermediates].map((c) => c.toString()) : undefined;
    server = https.createServer(
      {
        key: tls.keyPem,
        cert: tls.certPem,
        requestCert: true,
        rejectUnauthorized: false,
        ca,
        minVersion: 'TLSv1.2',
        // No session tickets: every connection makes a full handshake and presents its chain.
        secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
      },
      app,
    );
  }
  // A client whose certificate cannot prove possession of its key (a bad CertificateVerify
  // signature) fails the handshake itself: no page can be served on that connection, so say so
  // in the log (the main host's certificate page tells the citizen what that browser error means)
  // and count it. Not an audit record: the handshake names no one (the certificate, if any, did
  // not prove its key), and anyone who can reach the port can make as many as they like.
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    const reason = tlsFailureReason(err);
    opts.metrics?.certificateTlsFailures.inc({ reason });
    log.warn(
      { event: 'auth.certificate.tls_failed', host: 'certificate', reason, detail: err.message.split('\n')[0]?.slice(0, 200), from: socket.remoteAddress },
      'TLS handshake with the certificate host failed',
    );
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const scheme = settings.trustedProxy.plainHttp ? 'http' : 'https';
  const hostForUrl = isIP(settings.host) === 6 ? `[${settings.host}]` : settings.host;
  return {
    app,
    server,
    port,
    url: `${scheme}://${hostForUrl}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

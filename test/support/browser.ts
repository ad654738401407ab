import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { chromium, type Browser } from 'playwright-core';
import { createApp } from '../../src/app';
import { startCertificateHost, type CertificateHost } from '../../src/authn/certificate';
import { loadConfig } from '../../src/config';
import { buildServices, type Services } from '../../src/services';
import { MemoryStore } from '../../src/store/memory';
import { freePort } from './pki';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts');

/** Debian's chromium, headless, with the flags this closed network needs. Fails clearly when it is missing. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`browser tests need Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface LiveBroker {
  baseUrl: string;
  services: Services;
  outboxPath: string;
  /** The certificate host, when the certificate method is enabled. */
  certificateHost?: CertificateHost;
  close(): Promise<void>;
}

/** The embedded broker as `npm start` builds it (demo SP, seeded citizen), on a real port. */
export async function startLiveBroker(overrides: Record<string, unknown> = {}): Promise<LiveBroker> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pasarela-live-'));
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://127.0.0.1:${port}`;
  const outboxPath = path.join(dir, 'outbox.jsonl');
  const certPort = await freePort();
  const config = loadConfig({
    root: path.resolve(__dirname, '../..'),
    env: {},
    overrides: {
      port,
      baseUrl,
      keys: { dir: path.join(dir, 'certs'), generateIfMissing: true },
      secrets: { pairwise: 'p'.repeat(40), csrf: 'c'.repeat(40) },
      database: { sqlitePath: path.join(dir, 'pasarela.sqlite') },
      notify: { outboxPath },
      certificate: { port: certPort, publicUrl: `https://localhost:${certPort}` },
      log: { level: 'silent' },
      ...overrides,
    },
  });
  const services = await buildServices(config, pino({ level: 'silent' }), { store: new MemoryStore() });
  server.on('request', createApp(services));
  mkdirSync(ARTIFACTS, { recursive: true });
  const certificateHost = config.methods.enabled.includes('certificate')
    ? await startCertificateHost({
        settings: services.certificate,
        baseUrl,
        broker: services.broker,
        store: services.store,
        log: pino({ level: 'silent' }),
        env: config.env,
        keysDir: path.resolve(config.root, config.keys.dir),
        root: config.root,
      })
    : undefined;
  return {
    baseUrl,
    services,
    outboxPath,
    certificateHost,
    close: async () => {
      await certificateHost?.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await services.close();
    },
  };
}

/** Register beforeAll/afterAll that start a live broker and Chromium for this test file. */
export function liveBrowserSuite(): { readonly broker: LiveBroker; readonly browser: Browser } {
  const state: { broker?: LiveBroker; browser?: Browser } = {};
  beforeAll(async () => {
    state.broker = await startLiveBroker();
    state.browser = await launchChromium();
  });
  afterAll(async () => {
    await state.browser?.close();
    await state.broker?.close();
  });
  return {
    get broker() {
      return state.broker!;
    },
    get browser() {
      return state.browser!;
    },
  };
}

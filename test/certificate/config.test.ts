import { existsSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { certificateSettings, certificateSettingsSchema } from '../../src/authn/certificate/config';
import { certificateHostUrl, loadCertificateTrust, startCertificateHost } from '../../src/authn/certificate/host';
import { loadConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';
import { MemoryStore } from '../../src/store/memory';
import { TestCa, tempDir } from '../support/pki';

const ROOT = path.resolve(__dirname, '../..');

describe('certificate configuration', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  test('every field has a default, revocation fails closed and the proxy mode is off', () => {
    const s = certificateSettings();
    expect(s).toMatchObject({
      port: 8443,
      anchors: [],
      crl: { enabled: true, failOpen: false },
      ocsp: { enabled: true, failOpen: false, requireNonce: true },
      trustedProxy: { enabled: false, addresses: [], header: 'x-ssl-client-cert', plainHttp: false },
      handleTtlSeconds: 120,
    });
    expect(certificateHostUrl(s)).toBe('https://localhost:8443');
    expect(certificateHostUrl(certificateSettings({ publicUrl: 'https://cert.example.gob.es/' }))).toBe('https://cert.example.gob.es');
  });

  test('the broker configuration validates the certificate section and names the wrong key', () => {
    const load = (certificate: Record<string, unknown>) => () => loadConfig({ root: ROOT, env: { NODE_ENV: 'test' }, overrides: { certificate } });
    expect(load({})().certificate.ocsp.timeoutMs).toBe(5000);
    expect(load({ crl: { refreshSeconds: 120 } })().certificate.crl).toMatchObject({ refreshSeconds: 120, enabled: true });
    expect(load({ crl: { bogus: true } })).toThrow(/certificate\.crl.*bogus/);
    expect(load({ anchors: [{ path: 'x.pem', kind: 'other' }] })).toThrow(/certificate\.anchors\.0\.kind/);
    expect(load({ trustedProxy: { enabled: true } })).toThrow(/certificate\.trustedProxy\.addresses/);
    expect(load({ trustedProxy: { enabled: true, addresses: ['not-an-ip'] } })).toThrow(/IP address or CIDR/);
    expect(load({ trustedProxy: { plainHttp: true } })).toThrow(/plainHttp needs trustedProxy\.enabled/);
    expect(certificateSettingsSchema.safeParse({ trustedProxy: { enabled: true, addresses: ['10.0.0.0/8', '::1'] } }).success).toBe(true);
  });

  test('anchors must be CA certificates', () => {
    const ca = TestCa.root(tmp.dir, 'cfg-root', { C: 'ES', CN: 'Config Root' });
    const leaf = ca.issue('cfg-leaf', { subject: { C: 'ES', CN: 'Not a CA' } });
    const ok = loadCertificateTrust(certificateSettings({ anchors: [{ path: ca.certPath, kind: 'dnie' }] }), ROOT);
    expect(ok.anchors).toHaveLength(1);
    expect(ok.anchors[0]!.kind).toBe('dnie');
    expect(() => loadCertificateTrust(certificateSettings({ anchors: [{ path: leaf.certPath, kind: 'qualified' }] }), ROOT)).toThrow(ConfigError);
    expect(() => loadCertificateTrust(certificateSettings({ intermediates: [path.join(tmp.dir, 'missing.pem')] }), ROOT)).toThrow(/certificate\.intermediates\.0/);
  });

  test('development generates the host TLS pair under the keys dir; production refuses to', async () => {
    const base = {
      baseUrl: 'http://broker.test',
      broker: { load: async () => null },
      store: new MemoryStore(),
      log: pino({ level: 'silent' }),
      root: ROOT,
    };
    const keysDir = path.join(tmp.dir, 'keys');
    const host = await startCertificateHost({ ...base, settings: certificateSettings({ port: 0 }), env: 'development', keysDir });
    try {
      expect(existsSync(path.join(keysDir, 'certificate-host.key'))).toBe(true);
      expect(host.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await host.close();
    }
    const prodKeys = path.join(tmp.dir, 'prod-keys');
    await expect(
      startCertificateHost({ ...base, settings: certificateSettings({ port: 0, publicUrl: 'https://cert.example.gob.es' }), env: 'production', keysDir: prodKeys }),
    ).rejects.toThrow(/certificate\.tls/);
    await expect(startCertificateHost({ ...base, settings: certificateSettings({ port: 0 }), env: 'production', keysDir: prodKeys })).rejects.toThrow(
      /certificate\.publicUrl/,
    );
  });
});

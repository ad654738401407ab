import path from 'node:path';
import { loadConfig } from '../src/config';

const root = path.resolve(__dirname, '..');

/** The deployment variables (README "Configuration"; the Dockerfile and compose example use them). */
describe('deployment environment variables', () => {
  test('each one lands on its configuration key', () => {
    const c = loadConfig({
      root,
      env: {
        METHODS: 'pin, permanente',
        REDIS_KEY_PREFIX: 'node-a:',
        METADATA_DIR: '/etc/pasarela/sps',
        KEYS_NEXT_SIGNING_CERT_PATH: 'next-signing.crt',
        KEYS_NEXT_ENCRYPTION_CERT_PATH: 'next-encryption.crt',
        CERTIFICATE_HOST: '0.0.0.0',
        CERTIFICATE_PORT: '9443',
        CERTIFICATE_PUBLIC_URL: 'https://cert.idp.example/',
        CERTIFICATE_TLS_KEY_PATH: '/run/secrets/cert-host.key',
        CERTIFICATE_TLS_CERT_PATH: '/run/secrets/cert-host.crt',
        CERTIFICATE_ANCHORS: 'dnie:/etc/pasarela/dnie.pem,qualified:/etc/pasarela/fnmt.pem',
        CERTIFICATE_INTERMEDIATES: '/etc/pasarela/dnie-sub1.pem,/etc/pasarela/dnie-sub2.pem',
        TRUST_PROXY: '10.0.0.1, 10.0.0.2',
        OPERATOR_HOST: '0.0.0.0',
        OPERATOR_PORT: '9191',
      },
    });
    expect(c.methods.enabled).toEqual(['pin', 'permanente']);
    expect(c.store.keyPrefix).toBe('node-a:');
    expect(c.trust.metadataDir).toBe('/etc/pasarela/sps');
    expect(c.keys).toMatchObject({ nextSigningCertPath: 'next-signing.crt', nextEncryptionCertPath: 'next-encryption.crt' });
    expect(c.certificate).toMatchObject({
      host: '0.0.0.0',
      port: 9443,
      publicUrl: 'https://cert.idp.example',
      tls: { keyPath: '/run/secrets/cert-host.key', certPath: '/run/secrets/cert-host.crt' },
      anchors: [
        { kind: 'dnie', path: '/etc/pasarela/dnie.pem' },
        { kind: 'qualified', path: '/etc/pasarela/fnmt.pem' },
      ],
      intermediates: ['/etc/pasarela/dnie-sub1.pem', '/etc/pasarela/dnie-sub2.pem'],
    });
    expect(c.trustProxy).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(c.operator).toEqual({ host: '0.0.0.0', port: 9191 });
    expect(loadConfig({ root, env: { TRUST_PROXY: 'true' } }).trustProxy).toBe(true);
    expect(loadConfig({ root, env: { TRUST_PROXY: 'false' } }).trustProxy).toBe(false);
    // Empty unsets the rollover certificate (step 4 of the README procedure).
    expect(loadConfig({ root, env: { KEYS_NEXT_SIGNING_CERT_PATH: '' } }).keys.nextSigningCertPath).toBe('');
  });

  test.each([
    [{ METHODS: 'pin,sms' }, /"methods.enabled.1"/],
    [{ CERTIFICATE_ANCHORS: 'root:/x.pem' }, /"certificate.anchors.0.kind"/],
    [{ CERTIFICATE_ANCHORS: 'dnie' }, /"certificate.anchors.0.path"/],
    [{ CERTIFICATE_PORT: 'x' }, /"certificate.port"/],
  ])('a wrong value stops the start naming the key: %j', (env, message) => {
    expect(() => loadConfig({ root, env })).toThrow(message);
  });

  test('production reads its required settings from the environment alone', () => {
    const c = loadConfig({
      root,
      env: {
        NODE_ENV: 'production',
        BASE_URL: 'https://idp.example.gob.es',
        NOTIFY_URL: 'https://sms.example.gob.es/send',
        PASARELA_PAIRWISE_SECRET: 'p'.repeat(40),
        PASARELA_CSRF_SECRET: 'c'.repeat(40),
        CERTIFICATE_PUBLIC_URL: 'https://idp.example.gob.es:8443',
      },
    });
    expect(c.env).toBe('production');
    expect(c.notify.driver).toBe('http');
    expect(c.demo.enabled).toBe(false);
    expect(c.keys.generateIfMissing).toBe(false);
  });
});

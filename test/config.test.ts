import path from 'node:path';
import { loadConfig } from '../src/config';

const root = path.resolve(__dirname, '..');

describe('configuration', () => {
  test('embedded defaults load and derive the endpoint URLs', () => {
    const c = loadConfig({ root, env: { PORT: '9000' } });
    expect(c.baseUrl).toBe('http://localhost:9000');
    expect(c.entityId).toBe('http://localhost:9000/metadata');
    expect(c.ssoUrls.redirect).toBe('http://localhost:9000/saml/sso');
    expect(c.secureCookies).toBe(false);
  });

  test.each([
    [{ PORT: 'eighty' }, /"port"/],
    [{ DATABASE_URL: 'mysql://x' }, /"database.url": a postgres:\/\/ URL/],
    [{ REDIS_URL: 'http://x' }, /"store.redisUrl": a redis:\/\/ URL/],
    [{ LOG_LEVEL: 'loud' }, /"log.level"/],
    [{ BASE_URL: 'not a url' }, /"baseUrl"/],
  ])('a wrong value stops the start naming the key: %j', (env, message) => {
    expect(() => loadConfig({ root, env })).toThrow(message);
  });

  test('an unknown key is refused, not ignored', () => {
    expect(() => loadConfig({ root, env: {}, overrides: { sesion: { ttlSeconds: 5 } } })).toThrow(/sesion|Unrecognized/);
  });

  test('production needs https, a real SMS provider and no demo', () => {
    expect(() => loadConfig({ root, env: { NODE_ENV: 'production', BASE_URL: 'http://idp.example' } })).toThrow(/notify.http.url|baseUrl/);
    const c = loadConfig({ root, env: { NODE_ENV: 'production', BASE_URL: 'https://idp.example', NOTIFY_URL: 'https://sms.example/send', NOTIFY_AUTH_HEADER: 'Bearer t' } });
    expect(c.env).toBe('production');
    expect(c.demo.enabled).toBe(false);
    expect(c.keys.generateIfMissing).toBe(false);
    expect(c.notify.driver).toBe('http');
    expect(c.notify.http.authHeader).toBe('Bearer t');
    expect(c.secureCookies).toBe(true);
    expect(() => loadConfig({ root, env: { NODE_ENV: 'production', BASE_URL: 'http://idp.example', NOTIFY_URL: 'https://sms.example/send' } })).toThrow(
      /"baseUrl": an https:\/\/ URL in production/,
    );
  });
});

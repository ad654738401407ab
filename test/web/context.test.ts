import express from 'express';
import cookieParser from 'cookie-parser';
import request from 'supertest';
import { BROWSER_COOKIE, carriesLaxCookies, pageSetup } from '../../src/web/context';

/**
 * The browser id (SameSite=Lax) is set only where the browser would have sent one it had: a
 * request with it withheld must not replace it (test/browser/cross-site.test.ts shows the login
 * that broke in another tab when it did).
 */
describe('carriesLaxCookies: per the Fetch metadata, else by method', () => {
  const req = (method: string, headers: Record<string, string> = {}) => ({ method, headers });
  test.each([
    { name: 'a same-origin POST', r: req('POST', { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }), expected: true },
    { name: 'a same-site fetch', r: req('POST', { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' }), expected: true },
    { name: 'a typed address or bookmark', r: req('GET', { 'sec-fetch-site': 'none', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }), expected: true },
    { name: 'a cross-site top-level GET (an SP\'s Redirect binding)', r: req('GET', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }), expected: true },
    { name: 'a cross-site POST (an SP\'s HTTP-POST binding)', r: req('POST', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }), expected: false },
    { name: 'a cross-site image', r: req('GET', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' }), expected: false },
    { name: 'a cross-site frame', r: req('GET', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'iframe' }), expected: false },
    { name: 'a GET from a client without Fetch metadata', r: req('GET'), expected: true },
    { name: 'a POST from a client without Fetch metadata', r: req('POST'), expected: false },
  ])('$name: $expected', ({ r, expected }) => {
    expect(carriesLaxCookies(r)).toBe(expected);
  });
});

describe('pageSetup and the browser id', () => {
  const app = express();
  app.use(cookieParser());
  app.use(pageSetup({ secureCookies: false, csrfSecret: 'c'.repeat(40) }));
  // What the handlers see: an id on every request, whether or not the browser is given it.
  app.all('/', (req, res) => void res.send(String((req.cookies as Record<string, string>)[BROWSER_COOKIE])));
  const setsBrowserId = (res: request.Response) => ((res.headers['set-cookie'] as unknown as string[] | undefined) ?? []).some((c) => c.startsWith(`${BROWSER_COOKIE}=`));

  test('a first GET gets one, Lax and HttpOnly', async () => {
    const res = await request(app).get('/');
    const cookie = (res.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith(`${BROWSER_COOKIE}=`));
    expect(cookie).toBe(`${BROWSER_COOKIE}=${res.text}; Path=/; HttpOnly; SameSite=Lax`);
  });

  test('a cross-site POST without one is served with an id of its own, and the browser\'s is left alone', async () => {
    const res = await request(app).post('/').set('Sec-Fetch-Site', 'cross-site').set('Sec-Fetch-Mode', 'navigate').set('Sec-Fetch-Dest', 'document');
    expect(res.text).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(setsBrowserId(res)).toBe(false);
  });

  test('a request that has one keeps it and sets nothing', async () => {
    const id = 'a'.repeat(24);
    const res = await request(app).get('/').set('Cookie', `${BROWSER_COOKIE}=${id}`);
    expect(res.text).toBe(id);
    expect(setsBrowserId(res)).toBe(false);
  });
});

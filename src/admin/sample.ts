import { inflateRawSync } from 'node:zlib';

/**
 * The binding of a self-check sample given without one: a DEFLATEd SAMLRequest is the Redirect
 * binding's, a plain base64 one the POST binding's.
 */
export function detectBinding(sample: string): 'redirect' | 'post' {
  const s = sample.trim();
  let value = s;
  if (s.includes('SAMLRequest=')) value = new URLSearchParams(s.includes('?') ? s.slice(s.indexOf('?') + 1) : s).get('SAMLRequest') ?? '';
  try {
    inflateRawSync(Buffer.from(value, 'base64'), { maxOutputLength: 1024 * 1024 });
    return 'redirect';
  } catch {
    return 'post';
  }
}

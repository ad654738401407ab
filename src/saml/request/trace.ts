import { PasarelaError } from '../../errors';
import type { ReceiveAuthnRequestOptions } from './types';

/** Run one named check, telling the tracer (when there is one) how it went. */
export function traced<T>(trace: ReceiveAuthnRequestOptions['trace'], check: string, fn: () => T): T {
  if (!trace) return fn();
  try {
    const out = fn();
    trace.step({ check, ok: true });
    return out;
  } catch (err) {
    if (err instanceof PasarelaError) trace.step({ check, ok: false, code: err.code, message: err.message });
    throw err;
  }
}


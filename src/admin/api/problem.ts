import type { Response } from 'express';

/** RFC 9457 problem details, the admin API's only error shape. */
export function problem(res: Response, status: number, title: string, detail: string, code: string, extra: Record<string, unknown> = {}): void {
  res.status(status).type('application/problem+json').setHeader('Cache-Control', 'no-store');
  res.send(JSON.stringify({ type: 'about:blank', title, status, detail, code, ...extra }));
}

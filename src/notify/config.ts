import { z } from 'zod';

export const DEFAULT_BODY_TEMPLATE = '{"to":"{to}","text":"{text}","channel":"{channel}"}';

function templateProblem(t: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(t);
  } catch (err) {
    return `not JSON (${(err as Error).message})`;
  }
  if (typeof parsed !== 'object' || parsed === null) return 'a JSON object or array';
  for (const p of ['{to}', '{text}']) if (!t.includes(p)) return `the placeholder ${p} is missing`;
  return null;
}

const httpSchema = z
  .object({
    /** The provider endpoint (required with driver "http"). */
    url: z.url({ protocol: /^https?$/ }).optional(),
    /** `Bearer <token>` (sent as Authorization) or `Header-Name: value`. */
    authHeader: z.string().min(1).optional(),
    /** JSON body; string values may hold {to}, {text}, {channel}, replaced JSON-safely. */
    bodyTemplate: z
      .string()
      .default(DEFAULT_BODY_TEMPLATE)
      .superRefine((t, ctx) => {
        const problem = templateProblem(t);
        if (problem) ctx.addIssue({ code: 'custom', message: `a JSON body template with {to} and {text} inside string values: ${problem}` });
      }),
    timeoutMs: z.number().int().min(100).max(60_000).default(5000),
    retries: z.number().int().min(0).max(5).default(2),
    backoffMs: z.number().int().min(0).max(10_000).default(250),
  })
  .strict();

const rateSchema = z
  .object({
    /** Messages to one phone number per hour (fixed window from the first one). */
    perPhonePerHour: z.number().int().min(1).max(1_000_000).default(10),
    /** Messages for one citizen per hour. */
    perCitizenPerHour: z.number().int().min(1).max(1_000_000).default(6),
  })
  .strict();

/** Notification channel settings (SMS / app push). Owned by notify/. */
export const notifyConfigSchema = z
  .object({
    /** "outbox" appends to a file (development, tests; refused in production); "http" calls a provider. */
    driver: z.enum(['outbox', 'http']),
    outboxPath: z.string().min(1),
    http: httpSchema.prefault({}),
    rate: rateSchema.prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.driver === 'http' && !c.http.url) {
      ctx.addIssue({ code: 'custom', path: ['http', 'url'], message: 'notify.http.url is required when notify.driver is "http" (the provider endpoint)' });
    }
  });

export type NotifyConfig = z.infer<typeof notifyConfigSchema>;
export type NotifyRateConfig = NotifyConfig['rate'];

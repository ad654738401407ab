import { z } from 'zod';

/** Notification channel settings (SMS / app push). Owned by notify/. */
export const notifyConfigSchema = z
  .object({
    driver: z.enum(['outbox', 'http']),
    outboxPath: z.string().min(1),
  })
  .strict();

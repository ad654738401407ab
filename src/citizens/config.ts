import { z } from 'zod';

/**
 * Citizen credential lifecycle (issue 7). Owned by citizens/. Every field has a default, so
 * `citizensConfigSchema.parse({})` is a complete configuration.
 */
export const citizensConfigSchema = z
  .object({
    activationCode: z
      .object({
        /** Validity of a code sent by invitation letter (Cl@ve: the post is slow). */
        letterDays: z.number().int().min(1).max(365).default(30),
        /** Validity of a code handed over at an office, sent by SMS or e-mail. */
        otherDays: z.number().int().min(1).max(365).default(7),
        /** Wrong tries that lock the code (a new one must be issued). */
        maxAttempts: z.number().int().min(1).max(20).default(5),
      })
      .strict()
      .prefault({}),
    /** Cl@ve Permanente passwords expire after this many days; the next login changes them. */
    passwordValidityDays: z.number().int().min(1).max(3650).default(365),
    /** A new password must differ from this many previous ones (the current one included). */
    passwordHistory: z.number().int().min(1).max(24).default(5),
  })
  .strict();

export type CitizensConfig = z.infer<typeof citizensConfigSchema>;

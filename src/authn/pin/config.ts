import { z } from 'zod';

const codeRules = (ttlSeconds: number) =>
  z
    .object({
      /** How long a code is valid. */
      ttlSeconds: z.number().int().min(60).max(3600).default(ttlSeconds),
      /** Wrong tries that invalidate the code. */
      maxAttempts: z.number().int().min(1).max(10).default(3),
      /** A new code cannot be requested sooner than this after the previous one. */
      resendSeconds: z.number().int().min(10).max(600).default(60),
      /** Digits. */
      length: z.number().int().min(6).max(10).default(6),
    })
    .strict();

/**
 * One-time codes (Cl@ve PIN, Permanente SMS code) and abuse limits. Owned by authn/pin and
 * authn/permanente. Every field has a default (nested objects use `prefault`, which zod 4 runs
 * through the inner schema), so `otpConfigSchema.parse({})` is a complete configuration.
 */
export const otpConfigSchema = z
  .object({
    /** Cl@ve PIN: 10 minutes, 3 tries, 60 s between sends, 6 digits. */
    pin: codeRules(600).prefault({}),
    /** Cl@ve Permanente SMS code: 5 minutes, 3 tries, 6 digits. */
    otp: codeRules(300).prefault({}),
    /** Wrong passwords, PINs and codes counted per citizen (DNI/NIE) and per client address. */
    abuse: z
      .object({
        windowSeconds: z.number().int().min(60).max(86_400).default(900),
        maxFailuresPerCitizen: z.number().int().min(1).max(1000).default(10),
        maxFailuresPerAddress: z.number().int().min(1).max(100_000).default(50),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type OtpConfig = z.infer<typeof otpConfigSchema>;
export type CodeRules = OtpConfig['pin'];
export type AbuseConfig = OtpConfig['abuse'];


import { z } from 'zod';

/** One-time codes (Cl@ve PIN, Permanente SMS code) and abuse limits. Owned by authn/pin and authn/permanente. */
export const otpConfigSchema = z.object({}).strict();

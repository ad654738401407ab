import { z } from 'zod';

/** Certificate / DNIe method settings (the certificate host). Owned by authn/certificate/. */
export const certificateConfigSchema = z.object({}).strict();

import type { Citizen, RegistrationLevel } from '../citizens/types';
import type { LoaLevel } from '../saml/constants';
import type { MethodId } from '../saml/types';

/** What an authenticator hands back to the broker when the citizen is authenticated. */
export interface AuthnResult {
  method: MethodId;
  /** Variant inside a method, used by the LoA policy (e.g. `password`, `password+otp`, `dnie`, `qualified`). */
  variant: string;
  /** The citizen as identified; certificate logins carry identity without a registry entry. */
  subject: {
    citizenId?: string;
    dni: string;
    givenName: string;
    firstSurname: string;
    secondSurname: string | null;
    dateOfBirth?: string;
    registrationLevel?: RegistrationLevel;
  };
  achievedLoa: LoaLevel;
  authnInstant: Date;
  /** Cl@ve SelectedIdP value: PIN24H, SEGSOC, AFIRMA, EIDAS. */
  selectedIdP: string;
}

export function subjectFromCitizen(c: Citizen): AuthnResult['subject'] {
  return {
    citizenId: c.id,
    dni: c.dni,
    givenName: c.givenName,
    firstSurname: c.firstSurname,
    secondSurname: c.secondSurname,
    dateOfBirth: c.dateOfBirth,
    registrationLevel: c.registrationLevel,
  };
}

/**
 * One authentication method: its own pages under /login/:txn/<id>. It authenticates the citizen
 * and hands an AuthnResult to `kit.finish`; the broker does the rest. Adding Cl@ve Móvil or eIDAS
 * means adding one of these and a line of configuration.
 */
export interface Authenticator {
  id: import('../saml/types').MethodId;
  router(kit: import('../web/kit').AuthnKit): import('express').Router;
}

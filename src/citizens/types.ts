export type RegistrationLevel = 'basic' | 'advanced';
export type CitizenStatus = 'pending' | 'active' | 'locked' | 'deregistered';

export interface Citizen {
  id: string;
  /** DNI or NIE, upper case, check letter validated. */
  dni: string;
  givenName: string;
  firstSurname: string;
  secondSurname: string | null;
  /** YYYY-MM-DD */
  dateOfBirth: string;
  mobile: string;
  email: string | null;
  registrationLevel: RegistrationLevel;
  status: CitizenStatus;
  /** DNI validity date (YYYY-MM-DD; issue date for a permanent DNI), the Cl@ve PIN contrast datum. */
  dniValidityDate: string | null;
  failedPasswordAttempts: number;
  createdAt: Date;
  updatedAt: Date;
  /** When the current password was set (expiry counts from it); null without a password. */
  passwordSetAt: Date | null;
  /** Reference of the current registration (lifecycle `register`); null for seeded citizens. */
  registrationRef: string | null;
  /** office | certificate | video | letter; null for seeded citizens. */
  registrationChannel: string | null;
}

export interface NewCitizen {
  dni: string;
  givenName: string;
  firstSurname: string;
  secondSurname?: string | null;
  dateOfBirth: string;
  mobile: string;
  email?: string | null;
  registrationLevel: RegistrationLevel;
  dniValidityDate?: string | null;
  /** Sets an initial password and makes the citizen active (seeding, tests); otherwise pending activation. */
  password?: string;
}

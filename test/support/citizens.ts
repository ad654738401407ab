import { dniCheckLetter } from '../../src/citizens/nif';

/** A valid test DNI and its eight digits. */
export interface TestDni {
  dni: string;
  digits: string;
  /** A Spanish mobile number that is this DNI's own (+34 6 and the eight digits), so that no two test citizens share one. */
  mobile: string;
}

/**
 * Valid DNIs that no other test file and no other jest worker draws: the test files share the
 * PostgreSQL and Redis of the machine, so each file takes its own block of a million (`base`,
 * e.g. 43_000_000), the process id picks a thousand inside it, and a serial runs through that.
 */
export function dniSequence(base: number): () => TestDni {
  if (!Number.isInteger(base) || base % 1_000_000 !== 0 || base < 1_000_000 || base > 98_000_000) {
    throw new Error(`a DNI block is a whole million below 99,000,000, not ${base}`);
  }
  let serial = 0;
  return () => {
    if (serial >= 1000) throw new Error(`the DNI block ${base} has no more numbers for this process`);
    const digits = String(base + (process.pid % 1000) * 1000 + serial++).padStart(8, '0');
    return { dni: digits + dniCheckLetter(digits), digits, mobile: `+346${digits}` };
  };
}

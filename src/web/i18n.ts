/** Spanish and English strings of the citizen pages. Keys are stable; add both languages together. */
export type Lang = 'es' | 'en';

const es = {
  'lang.name': 'Español',
  'app.title': 'Pasarela — identificación',
  'app.skip': 'Saltar al contenido',
  'chooser.title': 'Elija cómo identificarse',
  'chooser.intro': '{sp} solicita identificarle con un nivel de seguridad {loa}.',
  'chooser.cancel': 'Cancelar y volver al servicio',
  'chooser.stepup': 'Ya se identificó con nivel {current}, pero este servicio pide {loa}: elija un método que lo alcance.',
  'method.pin': 'Cl@ve PIN',
  'method.pin.desc': 'DNI/NIE y un PIN de un solo uso enviado a su móvil.',
  'method.permanente': 'Cl@ve Permanente',
  'method.permanente.desc': 'DNI/NIE y su contraseña.',
  'method.certificate': 'DNIe o certificado electrónico',
  'method.certificate.desc': 'Su DNI electrónico o un certificado reconocido.',
  'method.eidas': 'Ciudadanos de la UE (eIDAS)',
  'method.eidas.desc': 'Identificación con el sistema de otro Estado miembro.',
  'method.movil': 'Cl@ve Móvil',
  'method.movil.desc': 'Aprobación desde la aplicación Cl@ve.',
  'reason.not_enabled': 'No está disponible en este servicio.',
  'reason.excluded_by_sp': 'Este servicio no admite este método.',
  'reason.excluded_by_request': 'El servicio ha excluido este método para este acceso.',
  'reason.loa_unreachable': 'Este método no alcanza el nivel de seguridad {loa} que pide el servicio.',
  'hint.advanced_only': 'Requiere registro de nivel avanzado.',
  'loa.low': 'bajo',
  'loa.substantial': 'sustancial',
  'loa.high': 'alto',
  'permanente.title': 'Cl@ve Permanente',
  'permanente.username': 'DNI/NIE',
  'permanente.password': 'Contraseña',
  'permanente.submit': 'Acceder',
  'permanente.bad': 'El DNI/NIE o la contraseña no son correctos.',
  'permanente.locked': 'Su contraseña está bloqueada por demasiados intentos fallidos. Recupérela con el servicio de recuperación de contraseña.',
  'permanente.inactive': 'Su Cl@ve Permanente no está activada. Actívela con su código de activación.',
  'permanente.invalid_dni': 'El DNI/NIE no es válido: {reason}.',
  'permanente.remaining': 'Le quedan {n} intentos antes de que se bloquee.',
  'permanente.insufficient': 'Su nivel de registro ({level}) no alcanza el nivel de seguridad {loa} que pide este servicio. Para obtener registro avanzado, acuda a una oficina de registro o regístrese por Internet con su certificado electrónico.',
  'back': 'Volver a elegir método',
  'post.title': 'Volviendo al servicio',
  'post.continue': 'Continuar',
  'post.noscript': 'Pulse Continuar para volver al servicio.',
  'error.title': 'No se ha podido completar la operación',
  'error.reference': 'Referencia del error: {id}',
  'error.expired': 'La sesión de identificación ha caducado o ya se completó. Vuelva al servicio e inténtelo de nuevo.',
  'error.request': 'La petición de identificación del servicio no es válida: {message}',
  'error.csrf': 'El formulario ha caducado. Vuelva atrás e inténtelo de nuevo.',
  'error.internal': 'Se ha producido un error interno. Inténtelo de nuevo más tarde.',
  'error.notfound': 'La página no existe.',
  'field.required': 'Este campo es obligatorio.',
} as const;

export type MessageKey = keyof typeof es;

const en: Record<MessageKey, string> = {
  'lang.name': 'English',
  'app.title': 'Pasarela — sign in',
  'app.skip': 'Skip to content',
  'chooser.title': 'Choose how to identify yourself',
  'chooser.intro': '{sp} asks to identify you with a {loa} level of assurance.',
  'chooser.cancel': 'Cancel and return to the service',
  'chooser.stepup': 'You signed in at level {current}, but this service asks for {loa}: choose a method that reaches it.',
  'method.pin': 'Cl@ve PIN',
  'method.pin.desc': 'DNI/NIE and a one-time PIN sent to your phone.',
  'method.permanente': 'Cl@ve Permanente',
  'method.permanente.desc': 'DNI/NIE and your password.',
  'method.certificate': 'DNIe or electronic certificate',
  'method.certificate.desc': 'Your electronic ID card or a qualified certificate.',
  'method.eidas': 'EU citizens (eIDAS)',
  'method.eidas.desc': "Identify with another Member State's scheme.",
  'method.movil': 'Cl@ve Móvil',
  'method.movil.desc': 'Approve from the Cl@ve app.',
  'reason.not_enabled': 'Not available for this service.',
  'reason.excluded_by_sp': 'This service does not accept this method.',
  'reason.excluded_by_request': 'The service excluded this method for this sign-in.',
  'reason.loa_unreachable': 'This method does not reach the {loa} level of assurance the service requires.',
  'hint.advanced_only': 'Requires an advanced registration.',
  'loa.low': 'low',
  'loa.substantial': 'substantial',
  'loa.high': 'high',
  'permanente.title': 'Cl@ve Permanente',
  'permanente.username': 'DNI/NIE',
  'permanente.password': 'Password',
  'permanente.submit': 'Sign in',
  'permanente.bad': 'The DNI/NIE or the password is not correct.',
  'permanente.locked': 'Your password is locked after too many failed attempts. Recover it with the password recovery service.',
  'permanente.inactive': 'Your Cl@ve Permanente is not activated yet. Activate it with your activation code.',
  'permanente.invalid_dni': 'The DNI/NIE is not valid: {reason}.',
  'permanente.remaining': 'You have {n} attempts left before it is locked.',
  'permanente.insufficient': 'Your registration level ({level}) does not reach the {loa} level of assurance this service requires. To get an advanced registration, visit a registration office or register online with your electronic certificate.',
  'back': 'Back to the methods',
  'post.title': 'Returning to the service',
  'post.continue': 'Continue',
  'post.noscript': 'Press Continue to return to the service.',
  'error.title': 'The operation could not be completed',
  'error.reference': 'Error reference: {id}',
  'error.expired': 'The sign-in has expired or was already completed. Go back to the service and try again.',
  'error.request': "The service's sign-in request is not valid: {message}",
  'error.csrf': 'The form has expired. Go back and try again.',
  'error.internal': 'An internal error occurred. Please try again later.',
  'error.notfound': 'The page does not exist.',
  'field.required': 'This field is required.',
};

const dictionaries: Record<Lang, Record<MessageKey, string>> = { es, en };

export type Translate = (key: MessageKey, vars?: Record<string, string | number>) => string;

export function translator(lang: Lang): Translate {
  const dict = dictionaries[lang];
  return (key, vars) => dict[key].replace(/\{(\w+)\}/g, (_, name: string) => String(vars?.[name] ?? `{${name}}`));
}

/** ?lang= (the visible switch) wins, then the lang cookie, then Accept-Language; Spanish by default. */
export function pickLang(query: unknown, cookie: unknown, acceptLanguage: string | undefined): Lang {
  for (const v of [query, cookie]) if (v === 'es' || v === 'en') return v;
  if (acceptLanguage) {
    const ranked = acceptLanguage
      .split(',')
      .map((part) => {
        const [tag, ...params] = part.trim().toLowerCase().split(';');
        const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
        return { tag: tag ?? '', q: q ? Number(q.slice(2)) || 0 : 1 };
      })
      .filter((x) => x.q > 0)
      .sort((a, b) => b.q - a.q);
    for (const { tag } of ranked) {
      if (tag.startsWith('es')) return 'es';
      if (tag.startsWith('en')) return 'en';
    }
  }
  return 'es';
}

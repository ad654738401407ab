import type { Lang } from './i18n';

/**
 * The texts of the information pages (web/info.ts) and of the footer that links them: long
 * prose rather than interface messages, so a catalogue of their own, in both languages.
 */

export const INFO_PAGES = ['about', 'terms', 'requirements', 'cookies', 'accessibility'] as const;
export type InfoPage = (typeof INFO_PAGES)[number];

export interface Prose {
  title: string;
  body: Array<string | { h2: string } | { list: string[] }>;
}

export const INFO_TEXT: Record<Lang, Record<InfoPage, Prose> & { footer: string; methods: Record<string, string>; levels: Record<string, string>; tableHead: [string, string, string, string]; caption: string; none: string }> = {
  es: {
    footer: 'Información del servicio',
    methods: {
      'pin.sms': 'Cl@ve PIN (PIN de un solo uso por SMS)',
      'permanente.password': 'Cl@ve Permanente (contraseña)',
      'permanente.otp': 'Cl@ve Permanente con código SMS',
      'certificate.dnie': 'DNI electrónico',
      'certificate.qualified': 'Otro certificado electrónico reconocido',
    },
    levels: { low: 'bajo', substantial: 'sustancial', high: 'alto' },
    tableHead: ['Método', 'Registro básico', 'Registro avanzado', 'Sin registro'],
    caption: 'Nivel de seguridad que alcanza cada método',
    none: 'no disponible',
    about: {
      title: 'Qué es Pasarela',
      body: [
        'Pasarela es la plataforma común de identificación electrónica que usan los servicios públicos: usted se identifica una vez, con el método que prefiera de entre los que el servicio admite, y el servicio recibe su identidad y el nivel de seguridad con el que se identificó.',
        'Cada servicio pide un nivel de seguridad (bajo, sustancial o alto) según los datos que trata. Solo se le ofrecen los métodos que alcanzan ese nivel; los demás aparecen desactivados con el motivo.',
        { h2: 'Qué nivel alcanza cada método' },
        'El nivel depende del método y de cómo se registró en el sistema. El registro avanzado se obtiene en una oficina de registro o por Internet con un certificado electrónico; el básico, por carta de invitación o videollamada.',
      ],
    },
    terms: {
      title: 'Condiciones de uso',
      body: [
        'Sus credenciales (contraseña, PIN, códigos enviados por SMS) son personales: no las comparta con nadie. Ningún servicio público se las pedirá por teléfono ni por correo electrónico.',
        'Pasarela comunica al servicio que usted elija solo los datos que ese servicio necesita (su identificador, su nombre y, si los pide, sus apellidos y fecha de nacimiento) y el método y nivel con que se identificó.',
        'Cada registro, activación, cambio de contraseña, recuperación, bloqueo, baja e identificación queda anotado en un registro de auditoría, con fecha y dirección de origen, para su seguridad.',
        'Puede darse de baja en cualquier momento desde el servicio de baja de Cl@ve Permanente; sus datos de auditoría se conservan el tiempo que marca la normativa.',
      ],
    },
    requirements: {
      title: 'Requisitos técnicos',
      body: [
        { h2: 'Navegadores' },
        { list: ['Las versiones actuales de Firefox, Chrome, Edge o Safari, en ordenador o móvil.', 'No hace falta JavaScript: todas las páginas funcionan sin él (con JavaScript, la vuelta al servicio es automática).', 'Las cookies deben estar permitidas para este sitio (solo usamos las necesarias; vea la página de cookies).'] },
        { h2: 'Cl@ve PIN y Cl@ve Permanente' },
        { list: ['Un teléfono móvil registrado que reciba SMS.', 'Para Cl@ve Permanente, haber activado su usuario con el código de activación.'] },
        { h2: 'DNI electrónico y certificados' },
        { list: ['DNIe: un lector de tarjetas inteligentes (o un móvil con NFC y la aplicación del DNIe) y el PIN de su DNIe.', 'Otros certificados: un certificado reconocido instalado en el navegador o en el sistema.', 'El navegador le pedirá elegir el certificado en una página aparte, con conexión segura.'] },
      ],
    },
    cookies: {
      title: 'Cookies',
      body: [
        'Este sitio usa solo cookies estrictamente necesarias para funcionar. No usamos cookies de análisis, publicidad ni de terceros, por eso no le pedimos consentimiento.',
        { list: [
          'pasarela_bid: identifica su navegador durante la identificación, para proteger los formularios. Dura hasta que cierra el navegador.',
          'pasarela_csrf (o __Host-pasarela.csrf): protege los formularios contra el envío desde otros sitios. Dura hasta que cierra el navegador.',
          'pasarela_sso: su sesión de identificación, para no pedirle de nuevo sus credenciales en otros servicios durante unas horas. Se borra al caducar la sesión o al darse de baja.',
          'pasarela_lang: el idioma que eligió. Dura un año.',
        ] },
      ],
    },
    accessibility: {
      title: 'Declaración de accesibilidad',
      body: [
        'Pasarela se compromete a hacer accesibles sus páginas conforme al Real Decreto 1112/2018 y a la norma UNE-EN 301 549, que remite a las Pautas WCAG 2.1 nivel AA; el objetivo de este sitio son las WCAG 2.2 nivel AA.',
        { h2: 'Situación de cumplimiento' },
        'Todas las páginas de identificación, de gestión de credenciales, de error y de información se revisan automáticamente con axe-core en español y en inglés, en pantalla de escritorio y a 320 píxeles de ancho, y los recorridos de Cl@ve PIN y Cl@ve Permanente se prueban solo con teclado y sin JavaScript.',
        { h2: 'Contenido no accesible' },
        'La elección del certificado y la introducción del PIN del DNIe las muestra su navegador o su sistema operativo, no esta página.',
        { h2: 'Comunicaciones' },
        'Si encuentra una barrera de accesibilidad, comuníquela al responsable del servicio indicando la página y, si la tiene, la referencia del error que aparece en pantalla. Si la respuesta no le satisface, puede iniciar el procedimiento de reclamación del Real Decreto 1112/2018.',
      ],
    },
  },
  en: {
    footer: 'About this service',
    methods: {
      'pin.sms': 'Cl@ve PIN (one-time PIN by SMS)',
      'permanente.password': 'Cl@ve Permanente (password)',
      'permanente.otp': 'Cl@ve Permanente with an SMS code',
      'certificate.dnie': 'Electronic ID card (DNIe)',
      'certificate.qualified': 'Another recognised electronic certificate',
    },
    levels: { low: 'low', substantial: 'substantial', high: 'high' },
    tableHead: ['Method', 'Basic registration', 'Advanced registration', 'No registration'],
    caption: 'Level of assurance each method reaches',
    none: 'not available',
    about: {
      title: 'What Pasarela is',
      body: [
        'Pasarela is the common electronic identification platform of public services: you identify yourself once, with the method you prefer among those the service accepts, and the service receives your identity and the level of assurance you reached.',
        'Each service asks for a level of assurance (low, substantial or high) depending on the data it handles. You are offered only the methods that reach it; the others are shown disabled, with the reason.',
        { h2: 'Which level each method reaches' },
        'The level depends on the method and on how you registered. An advanced registration is obtained at a registration office or online with an electronic certificate; a basic one by invitation letter or video call.',
      ],
    },
    terms: {
      title: 'Terms of use',
      body: [
        'Your credentials (password, PIN, codes sent by SMS) are personal: do not share them with anyone. No public service will ask you for them by phone or e-mail.',
        'Pasarela tells the service you choose only the data it needs (your identifier, your name and, if asked, your surnames and date of birth) and the method and level you identified with.',
        'Every registration, activation, password change, recovery, lock, deregistration and sign-in is recorded in an audit trail, with the date and origin address, for your security.',
        'You can deregister at any time with the Cl@ve Permanente deregistration service; the audit records are kept for as long as the law requires.',
      ],
    },
    requirements: {
      title: 'Technical requirements',
      body: [
        { h2: 'Browsers' },
        { list: ['Current versions of Firefox, Chrome, Edge or Safari, on a computer or a phone.', 'No JavaScript is needed: every page works without it (with JavaScript, the way back to the service is automatic).', 'Cookies must be allowed for this site (only the necessary ones are used; see the cookies page).'] },
        { h2: 'Cl@ve PIN and Cl@ve Permanente' },
        { list: ['A registered mobile phone that receives SMS.', 'For Cl@ve Permanente, your user activated with the activation code.'] },
        { h2: 'Electronic ID card and certificates' },
        { list: ['DNIe: a smart-card reader (or a phone with NFC and the DNIe app) and your DNIe PIN.', 'Other certificates: a recognised certificate installed in the browser or the system.', 'The browser asks you to choose the certificate on a separate page, over a secure connection.'] },
      ],
    },
    cookies: {
      title: 'Cookies',
      body: [
        'This site uses only cookies that are strictly necessary for it to work. There are no analytics, advertising or third-party cookies, so no consent is asked.',
        { list: [
          'pasarela_bid: identifies your browser during sign-in, to protect the forms. Lasts until you close the browser.',
          'pasarela_csrf (or __Host-pasarela.csrf): protects the forms against submissions from other sites. Lasts until you close the browser.',
          'pasarela_sso: your sign-in session, so other services do not ask for your credentials again for a few hours. Deleted when the session expires or when you deregister.',
          'pasarela_lang: the language you chose. Lasts one year.',
        ] },
      ],
    },
    accessibility: {
      title: 'Accessibility statement',
      body: [
        'Pasarela is committed to making its pages accessible under Royal Decree 1112/2018 and standard UNE-EN 301 549, which refers to WCAG 2.1 level AA; this site aims at WCAG 2.2 level AA.',
        { h2: 'Compliance status' },
        'Every sign-in, credential, error and information page is checked automatically with axe-core in Spanish and English, at desktop size and at 320 pixels wide, and the Cl@ve PIN and Cl@ve Permanente journeys are tested with the keyboard only and without JavaScript.',
        { h2: 'Content that is not accessible' },
        'Choosing a certificate and typing the DNIe PIN happen in your browser or operating system, not on this page.',
        { h2: 'Feedback' },
        'If you meet an accessibility barrier, tell the service owner, naming the page and, if shown, the error reference. If the answer does not satisfy you, you can start the complaint procedure of Royal Decree 1112/2018.',
      ],
    },
  },
};


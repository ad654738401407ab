<?php
/*
 * SimpleSAMLphp 1.19 as an SP of Pasarela: the settings that differ from the shipped defaults
 * (docs/recipes/simplesamlphp.md). Filled by test/support/simplesamlphp.ts ({{SSP}}: the
 * SP's temp dir; SIMPLESAMLPHP_CONFIG_DIR points at {{SSP}}/config).
 */
$config = [
    'baseurlpath' => '{{BASE_URL}}/simplesaml/',
    'certdir' => '{{SSP}}/cert/',
    'loggingdir' => '{{SSP}}/log/',
    'datadir' => '{{SSP}}/data/',
    'tempdir' => '{{SSP}}/tmp',
    'metadatadir' => '{{SSP}}/metadata/',

    'secretsalt' => '{{SECRET_SALT}}',
    'auth.adminpassword' => '{{ADMIN_PASSWORD}}',
    'admin.protectindexpage' => true,
    'admin.protectmetadata' => false,
    'technicalcontact_name' => 'Pasarela interop tests',
    'technicalcontact_email' => 'root@localhost',
    'timezone' => 'Europe/Madrid',

    'logging.level' => SimpleSAML\Logger::INFO,
    'logging.handler' => 'file',
    'logging.logfile' => 'simplesamlphp.log',
    'showerrors' => true,
    'errorreporting' => false,

    'enable.saml20-idp' => false,
    'store.type' => 'phpsession',
    'session.phpsession.savepath' => '{{SSP}}/sessions',
    // Plain http on 127.0.0.1 in the tests; true (the default) behind https.
    'session.cookie.secure' => {{COOKIE_SECURE}},
    'session.cookie.samesite' => null,

    'language.available' => ['en', 'es'],
    'language.default' => 'en',
];

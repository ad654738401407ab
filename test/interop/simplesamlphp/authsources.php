<?php
/*
 * Two SPs of Pasarela (docs/recipes/simplesamlphp.md): "pasarela" (signed assertions) and
 * "pasarela-enc" (assertions encrypted to the SP's key: its metadata carries the key and it
 * refuses plain assertions). Both sign their Redirect AuthnRequests with RSA-SHA256, ask for a
 * persistent NameID and an eIDAS LoA (low by default; a page may ask for more with
 * saml:AuthnContextClassRef), and rename the eIDAS / Cl@ve attribute URIs to FriendlyNames.
 */
$pasarela = [
    'saml:SP',
    'idp' => '{{IDP_ENTITY_ID}}',
    'privatekey' => 'sp.key',
    'certificate' => 'sp.crt',
    'sign.authnrequest' => true,
    'redirect.sign' => true,
    'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    'NameIDPolicy' => ['Format' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent', 'AllowCreate' => true],
    'AuthnContextClassRef' => 'http://eidas.europa.eu/LoA/low',
    'AuthnContextComparison' => 'minimum',
    'authproc' => [
        20 => [
            'class' => 'core:AttributeMap',
            'http://eidas.europa.eu/attributes/naturalperson/PersonIdentifier' => 'PersonIdentifier',
            'http://eidas.europa.eu/attributes/naturalperson/CurrentGivenName' => 'FirstName',
            'http://eidas.europa.eu/attributes/naturalperson/CurrentFamilyName' => 'FamilyName',
            'http://eidas.europa.eu/attributes/naturalperson/DateOfBirth' => 'DateOfBirth',
            'http://es.minhafp.clave/FirstSurname' => 'FirstSurname',
            'http://es.minhafp.clave/SelectedIdP' => 'SelectedIdP',
            'http://es.minhafp.clave/RegisterType' => 'RegisterType',
            'http://es.minhafp.clave/RelayState' => 'RelayState',
        ],
    ],
];

$config = [
    'admin' => ['core:AdminPassword'],
    'pasarela' => $pasarela + [
        'entityID' => '{{BASE_URL}}/simplesaml/module.php/saml/sp/metadata.php/pasarela',
    ],
    'pasarela-enc' => $pasarela + [
        'entityID' => '{{BASE_URL}}/simplesaml/module.php/saml/sp/metadata.php/pasarela-enc',
        'assertion.encryption' => true,
    ],
];

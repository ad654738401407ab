<?php
/*
 * The protected page: ?sp=pasarela|pasarela-enc&loa=low|substantial. requireAuth() sends the
 * citizen to Pasarela when there is no session; the page prints what SimpleSAMLphp established.
 */
require_once '/usr/share/simplesamlphp/lib/_autoload.php';

$sp = $_GET['sp'] ?? 'pasarela';
$loa = $_GET['loa'] ?? 'low';
if (!in_array($sp, ['pasarela', 'pasarela-enc'], true) || !in_array($loa, ['low', 'substantial', 'high'], true)) {
    http_response_code(400);
    exit;
}
$as = new \SimpleSAML\Auth\Simple($sp);
$as->requireAuth([
    'saml:AuthnContextClassRef' => "http://eidas.europa.eu/LoA/$loa",
    'saml:AuthnContextComparison' => 'minimum',
]);
$nameId = $as->getAuthData('saml:sp:NameID');
header('Content-Type: application/json');
header('Cache-Control: no-store');
echo json_encode([
    'authsource' => $sp,
    'idp' => $as->getAuthData('saml:sp:IdP'),
    'authnContext' => $as->getAuthData('saml:sp:AuthnContext'),
    'nameId' => $nameId === null ? null : ['value' => $nameId->getValue(), 'format' => $nameId->getFormat()],
    'attributes' => $as->getAttributes(),
], JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRETTY_PRINT), "\n";

<?php
/*
 * Pasarela's /metadata -> saml20-idp-remote.php, accepted only when its signature verifies
 * with the metadata-signing certificate (what the admin "XML to SimpleSAMLphp metadata"
 * converter does, plus the signature check metarefresh's 'certificates' option does).
 *
 *   php convert-idp-metadata.php <metadata.xml> <metadata-signing.crt> > metadata/saml20-idp-remote.php
 */
require '/usr/share/simplesamlphp/lib/_autoload.php';

[$self, $xmlFile, $certFile] = $argv + [null, null, null];
if ($xmlFile === null || $certFile === null) {
    fwrite(STDERR, "usage: php convert-idp-metadata.php <metadata.xml> <metadata-signing.crt>\n");
    exit(2);
}
$entities = \SimpleSAML\Metadata\SAMLParser::parseDescriptorsString(file_get_contents($xmlFile));
echo "<?php\n";
foreach ($entities as $entityId => $entity) {
    if (!$entity->validateSignature([realpath($certFile)])) {
        fwrite(STDERR, "the metadata of $entityId is not signed by $certFile\n");
        exit(1);
    }
    $md = $entity->getMetadata20IdP();
    if ($md === null) {
        fwrite(STDERR, "$entityId has no SAML 2.0 IdP descriptor\n");
        exit(1);
    }
    unset($md['entityDescriptor']);
    echo '$metadata[' . var_export($entityId, true) . '] = ' . var_export($md, true) . ";\n";
}

#!/usr/bin/perl
# The protected page: the CGI environment the SP module established, as one JSON object.
use strict;
use warnings;
use JSON::PP;
my %out = map { $_ => $ENV{$_} } grep { $_ ne 'PATH' } keys %ENV;
print "Content-Type: application/json\r\nCache-Control: no-store\r\n\r\n";
print JSON::PP->new->canonical->encode(\%out), "\n";

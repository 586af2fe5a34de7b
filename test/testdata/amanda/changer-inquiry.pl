#!/usr/bin/perl
# changer-inquiry.pl CONFIG: asks the configuration's changer for its
# vendor string, as Amanda's changer API offers it (info key vendor_string).
# No Amanda command line tool asks for it, but it is the one request for
# which chg-ndmp sends TEST UNIT READY and INQUIRY to the NDMP robot; the
# test runs it to check Ferry's answers as Amanda reads them. Prints
# "vendor_string: VENDOR PRODUCT", or "ERROR: ..." and exits 1.
use lib '/usr/lib/x86_64-linux-gnu/amanda/perl';
use strict;
use warnings;
use Amanda::Config qw( :init :getconf config_dir_relative );
use Amanda::Util qw( :constants );
use Amanda::Storage;
use Amanda::Tapelist;
use Amanda::MainLoop;

Amanda::Util::setup_application("amtape", "server", $CONTEXT_CMDLINE, "amanda", "amanda");
config_init_with_global($CONFIG_INIT_EXPLICIT_NAME, $ARGV[0]);
my ($level, @errors) = config_errors();
die("config errors: @errors") if $level >= $CFGERR_ERRORS;
Amanda::Util::finish_setup($RUNNING_AS_DUMPUSER);

my ($tl, $message) = Amanda::Tapelist->new(config_dir_relative(getconf($CNF_TAPELIST)));
die("tapelist: $message") if defined $message && $message->{'severity'} >= $Amanda::Message::CRITICAL;
my $storage = Amanda::Storage->new(tapelist => $tl);
die("ERROR: $storage\n") if $storage->isa("Amanda::Changer::Error");
my $chg = $storage->{'chg'};
die("ERROR: $chg\n") if $chg->isa("Amanda::Changer::Error");

my $status = 0;
$chg->info(info => [ 'vendor_string' ], info_cb => sub {
    my ($err, %results) = @_;
    if ($err) {
        print "ERROR: $err\n";
        $status = 1;
    } else {
        print "vendor_string: $results{'vendor_string'}\n";
    }
    $storage->quit();
    Amanda::MainLoop::quit();
});
Amanda::MainLoop::run();
Amanda::Util::finish_application();
exit($status);

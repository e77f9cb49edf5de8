#!/usr/bin/perl
# xfs-proto.pl DIR: prints an mkfs.xfs(8) proto file describing DIR (its
# "-p" input), with regular files, directories, symlinks and hard links
# (repeated as files: the proto format has no hard links).
use strict;
use warnings;
my $root = shift or die "usage: $0 DIR\n";
print "/dev/null\n0 0\n";
sub mode { my ($m) = @_; return sprintf("%03o", $m & 0777) }
sub walk {
    my ($dir, $depth) = @_;
    opendir(my $dh, $dir) or die "$dir: $!";
    my @names = sort grep { $_ ne "." && $_ ne ".." } readdir($dh);
    closedir($dh);
    my $pad = " " x $depth;
    for my $n (@names) {
        my $p = "$dir/$n";
        next if $n =~ /\s/;    # the proto format cannot name these
        my @st = lstat($p) or die "$p: $!";
        my ($mode, $uid, $gid) = @st[2, 4, 5];
        if (-l $p) {
            print "$pad$n l--", mode($mode), " $uid $gid ", readlink($p), "\n";
        } elsif (-d $p) {
            print "$pad$n d--", mode($mode), " $uid $gid\n";
            walk($p, $depth + 1);
            print "$pad\$\n";
        } elsif (-f $p) {
            print "$pad$n ---", mode($mode), " $uid $gid $p\n";
        }
    }
}
my @st = stat($root) or die "$root: $!";
print "d--", mode($st[2]), " $st[4] $st[5]\n";
walk($root, 1);
print "\$\n";

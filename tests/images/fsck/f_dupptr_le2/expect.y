** ./case.img
** Last Mounted on /tmp/tmp.OUqDRftpya
** Phase 1 - Check Blocks and Sizes
88 DUP I=5
UNEXPECTED SOFT UPDATE INCONSISTENCY

** Phase 1b - Rescan For More DUPS
88 DUP I=4
UNEXPECTED SOFT UPDATE INCONSISTENCY

I=4 SHARES 1 FRAGMENTS WITH OTHER FILES
UNEXPECTED SOFT UPDATE INCONSISTENCY

COPY? yes

** Phase 2 - Check Pathnames
** Phase 3 - Check Connectivity
** Phase 4 - Check Reference Counts
** Phase 5 - Check Cyl groups
SUMMARY INFORMATION BAD
SALVAGE? yes

BLK(S) MISSING IN BIT MAPS
SALVAGE? yes

16 files, 441 used, 430 free (38 frags, 49 blocks, 4.4% fragmentation)

***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1

** ./case.img
** Last Mounted on 
** Phase 1 - Check Blocks and Sizes
INCORRECT BLOCK COUNT I=29 (2 should be 4)
CORRECT? yes

1434 DUP I=30
** Phase 1b - Rescan For More DUPS
1434 DUP I=29
I=29 SHARES 2 FRAGMENTS WITH OTHER FILES
COPY? yes

** Phase 2 - Check Pathnames
** Phase 3 - Check Connectivity
** Phase 4 - Check Reference Counts
** Phase 5 - Check Cyl groups
FREE BLK COUNT(S) WRONG IN SUPERBLK
SALVAGE? yes

SUMMARY INFORMATION BAD
SALVAGE? yes

BLK(S) MISSING IN BIT MAPS
SALVAGE? yes

2063 files, 3555 used, 4260 free (4 frags, 532 blocks, 0.1% fragmentation)

***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1

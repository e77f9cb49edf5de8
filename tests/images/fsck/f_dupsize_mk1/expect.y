** ./case.img
** Last Mounted on 
** Phase 1 - Check Blocks and Sizes
INCORRECT BLOCK COUNT I=29 (8 should be 16)
CORRECT? yes

81 DUP I=30
** Phase 1b - Rescan For More DUPS
81 DUP I=29
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

171 files, 473 used, 1518 free (6 frags, 189 blocks, 0.3% fragmentation)

***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1

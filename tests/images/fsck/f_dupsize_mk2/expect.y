** ./case.img
** Last Mounted on 
** Phase 1 - Check Blocks and Sizes
INCORRECT BLOCK COUNT I=29 (1 should be 2)
CORRECT? yes

4941 DUP I=30
** Phase 1b - Rescan For More DUPS
4941 DUP I=29
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

172 files, 20986 used, 2101 free (5 frags, 262 blocks, 0.0% fragmentation)

***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1

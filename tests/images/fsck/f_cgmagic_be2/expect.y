** ./case.img
** Last Mounted on /tmp/tmp.DXTWjZpta5
** Phase 1 - Check Blocks and Sizes
CYLINDER GROUP 0: BAD MAGIC NUMBER
UNEXPECTED SOFT UPDATE INCONSISTENCY

REBUILD CYLINDER GROUP? yes

** Phase 2 - Check Pathnames
** Phase 3 - Check Connectivity
** Phase 4 - Check Reference Counts
** Phase 5 - Check Cyl groups
CG 0: BAD CHECK-HASH 0 vs 0xac5b10d3
SUMMARY INFORMATION BAD
SALVAGE? yes

ALLOCATED FILES 0-13 MARKED FREE
BLK(S) MISSING IN BIT MAPS
SALVAGE? yes

16 files, 441 used, 430 free (38 frags, 49 blocks, 4.4% fragmentation)

***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1

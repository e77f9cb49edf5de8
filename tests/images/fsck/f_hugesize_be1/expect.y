** ./case.img
** Last Mounted on 
** Phase 1 - Check Blocks and Sizes
UNKNOWN FILE TYPE I=29
CLEAR? yes

** Phase 2 - Check Pathnames
UNALLOCATED  I=29  OWNER=root MODE=0
SIZE=0 MTIME=Jan  1 00:00 1970 
NAME=/files/hello.txt

REMOVE? yes

** Phase 3 - Check Connectivity
** Phase 4 - Check Reference Counts
** Phase 5 - Check Cyl groups
FREE BLK COUNT(S) WRONG IN SUPERBLK
SALVAGE? yes

SUMMARY INFORMATION BAD
SALVAGE? yes

BLK(S) MISSING IN BIT MAPS
SALVAGE? yes

2062 files, 3553 used, 4262 free (6 frags, 532 blocks, 0.1% fragmentation)

***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1

** ./case.img
** Last Mounted on 
** Phase 1 - Check Blocks and Sizes

HOLD BAD BLOCK? yes

UNKNOWN FILE TYPE I=40
CLEAR? yes

** Phase 2 - Check Pathnames
UNALLOCATED  I=40  OWNER=root MODE=0
SIZE=0 MTIME=Jan  1 00:00 1970 
NAME=/many/f046

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

171 files, 20984 used, 2103 free (7 frags, 262 blocks, 0.0% fragmentation)

***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1

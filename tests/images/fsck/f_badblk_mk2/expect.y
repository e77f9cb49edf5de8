** ./case.img
** Last Mounted on 
** Phase 1 - Check Blocks and Sizes
99999999 BAD I=40
** Phase 2 - Check Pathnames
DUP/BAD  I=40  OWNER=root MODE=100644
SIZE=3 MTIME=May  1 12:00 2020 
FILE=/many/f046

REMOVE? yes

** Phase 3 - Check Connectivity
** Phase 4 - Check Reference Counts
BAD/DUP FILE I=40  OWNER=root MODE=100644
SIZE=3 MTIME=May  1 12:00 2020 
CLEAR? yes

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

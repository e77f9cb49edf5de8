** ./case.img
** Last Mounted on 
** Phase 1 - Check Blocks and Sizes
99999999 BAD I=29
** Phase 2 - Check Pathnames
DUP/BAD  I=29  OWNER=root MODE=100644
SIZE=12 MTIME=May  1 12:00 2020 
FILE=/files/hello.txt

REMOVE? yes

** Phase 3 - Check Connectivity
** Phase 4 - Check Reference Counts
BAD/DUP FILE I=29  OWNER=root MODE=100644
SIZE=12 MTIME=May  1 12:00 2020 
CLEAR? yes

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

** ./case.img
** Last Mounted on 
** Phase 1 - Check Blocks and Sizes
** Phase 2 - Check Pathnames
I OUT OF RANGE  I=99999999 
NAME=/special

REMOVE? yes

** Phase 3 - Check Connectivity
UNREF DIR  I=3  OWNER=root MODE=40755
SIZE=512 MTIME=May  1 12:00 2020 
RECONNECT? yes

NO lost+found DIRECTORY
CREATE? yes

DIR I=3 CONNECTED. PARENT WAS I=2

** Phase 4 - Check Reference Counts
LINK COUNT DIR I=2  OWNER=root MODE=40755
SIZE=512 MTIME=May  1 12:00 2020  COUNT 12 SHOULD BE 11
ADJUST? yes

** Phase 5 - Check Cyl groups
FREE BLK COUNT(S) WRONG IN SUPERBLK
SALVAGE? yes

SUMMARY INFORMATION BAD
SALVAGE? yes

BLK(S) MISSING IN BIT MAPS
SALVAGE? yes

2064 files, 3555 used, 4260 free (4 frags, 532 blocks, 0.1% fragmentation)

***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1

** ./case.img
** Last Mounted on 
** Phase 1 - Check Blocks and Sizes
** Phase 2 - Check Pathnames
I OUT OF RANGE  I=99999999 
NAME=/emptydir

REMOVE? yes

** Phase 3 - Check Connectivity
UNREF DIR  I=3  OWNER=root MODE=41777
SIZE=512 MTIME=May  1 12:00 2020 
RECONNECT? yes

NO lost+found DIRECTORY
CREATE? yes

DIR I=3 CONNECTED. PARENT WAS I=2

** Phase 4 - Check Reference Counts
LINK COUNT DIR I=2  OWNER=root MODE=40755
SIZE=512 MTIME=May  1 12:00 2020  COUNT 9 SHOULD BE 8
ADJUST? yes

** Phase 5 - Check Cyl groups
FREE BLK COUNT(S) WRONG IN SUPERBLK
SALVAGE? yes

SUMMARY INFORMATION BAD
SALVAGE? yes

BLK(S) MISSING IN BIT MAPS
SALVAGE? yes

173 files, 20986 used, 2101 free (5 frags, 262 blocks, 0.0% fragmentation)

***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1
